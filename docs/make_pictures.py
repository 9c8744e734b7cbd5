"""Regenerate every terminal picture of the README and the docs from real runs of the current code, offline.

usage: python docs/make_pictures.py [--only plan,validate,estimate,eval] [--out docs/pictures]

Each picture is one `tunewise` command run as a person runs it (a fresh process, colours on, 110 columns, a fresh
$TUNEWISE_HOME), its screen turned into an SVG by rich. The inputs ship with the repository (examples/) or are
built here (a smoke model for the eval picture), so no key, hub or network is needed. tests/test_docs.py runs each
picture's command, so a picture whose command broke is noticed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIDTH = 110
GOAL = (
    "Our support assistant should answer in our house style and from our help pages, which change often. "
    "We have 300 good chats in that style and a careful prompt fell short. Chats must stay on our servers."
)


def pictures(work: Path) -> dict[str, list[str]]:
    """Return each picture's name and the `tunewise` arguments that draw it; inputs are written under `work`."""
    chats = REPO / "examples" / "support_chat.jsonl"
    lines = chats.read_text("utf-8").splitlines(keepends=True)
    eval_file, train_file = work / "eval.jsonl", work / "train.jsonl"
    eval_file.write_text("".join(lines[-3:]), "utf-8")  # held out: never among the few-shot examples
    train_file.write_text("".join(lines[:-3]), "utf-8")
    return {
        "plan": [
            "plan",
            GOAL,
            "--data",
            str(chats),
            "--docs",
            str(REPO / "examples" / "helpcentre"),
            "--non-interactive",
            "--today",
            "2026-12-06",
        ],  # fmt: skip
        "validate": ["validate", str(chats)],
        "estimate": [
            "estimate",
            str(chats),
            "--requests-per-month",
            "100000",
            "--prompt-tokens",
            "2000",
            "--provider",
            "local",
            "--gpu",
            "RTX 4090",
        ],  # fmt: skip
        "eval": [
            "eval",
            "--eval-file",
            str(eval_file),
            "--candidate",
            f"base=hf:{work / 'smoke'}",
            "--candidate",
            f"prompted=hf:{work / 'smoke'}+prompted",
            "--train-file",
            str(train_file),
            "--max-new-tokens",
            "8",
            "--out",
            str(work / "eval"),
        ],  # fmt: skip
    }


def prepare(work: Path) -> None:
    """Build what the pictures need beyond examples/: the smoke model the eval picture scores."""
    from tools.models.smoke import build

    texts = [line for line in (REPO / "examples" / "support_chat.jsonl").read_text("utf-8").splitlines()[:200]]
    build(work / "smoke", texts, max_positions=4096)


def run(args: list[str], home: Path) -> str:
    """Run `tunewise ARGS` in a fresh process with colours on; return its screen (stdout then stderr), ANSI kept.
    Only `validate` may exit 1 (the file has errors, which is what its picture shows); anything else stops here.
    """
    env = {
        **os.environ,
        "TUNEWISE_HOME": str(home),
        "COLUMNS": str(WIDTH),
        "FORCE_COLOR": "1",
        "TTY_COMPATIBLE": "1",
        "TTY_INTERACTIVE": "0",  # no spinner frames: a person sees them erased, so the picture leaves them out
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("OPENAI_API_KEY", None)
    tunewise = str(Path(sys.executable).with_name("tunewise"))
    done = subprocess.run([tunewise, *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and not (args[0] == "validate" and done.returncode == 1):
        raise SystemExit(f"tunewise {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-500:]}")
    return done.stdout + done.stderr


def svg(screen: str, title: str) -> str:
    """Turn a terminal screen (ANSI colours) into an SVG picture with rich."""
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=WIDTH, file=open(os.devnull, "w"), force_terminal=True)
    console.print(Text.from_ansi(screen.rstrip()))
    return console.export_svg(title=title)


def shown(args: list[str], work: Path) -> str:
    """Return the command as the picture's title says it: paths relative to the repository, as a reader types."""
    words = [a.replace(str(REPO) + "/", "").replace(str(work) + "/", "") for a in args]
    words = [w if len(w) <= 48 else w[:47] + "…" for w in words]  # the goal, shortened in the title bar
    return "tunewise " + " ".join(f'"{w}"' if " " in w else w for w in words)


def main() -> None:
    """Draw the pictures asked for (all by default) into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated picture names (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "pictures")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tunewise-pictures-"))
    try:
        todo = pictures(work)
        names = [n for n in args.only.split(",") if n] or list(todo)
        if "eval" in names:
            prepare(work)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in names:
            screen = run(todo[name], work / f"home-{name}")
            target = args.out / f"{name}.svg"
            tmp = target.with_suffix(".svg.tmp")
            tmp.write_text(svg(screen, shown(todo[name], work)), "utf-8")
            tmp.replace(target)
            print(
                f"{target.relative_to(REPO) if target.is_relative_to(REPO) else target}: {len(screen.splitlines())} lines"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
