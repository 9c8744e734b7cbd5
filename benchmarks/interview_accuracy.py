"""How well the offline interviewer reads goals as people write them: per-fact accuracy, an approach confusion
table, approach accuracy and path accuracy, on the dev corpora (tuned on) and the held-out corpus (never seen).

    python benchmarks/interview_accuracy.py [--dev FILE ...] [--heldout FILE] [--show-misses] [--rules-only]

The dev part is two files, each reported on its own: goals_dev.jsonl (written alongside the reader) and
goals_blind1.jsonl (written by someone who never saw the reader; measured blind once, then tuned on). The held-out
part, goals_heldout.jsonl, is a second blind set that nobody tunes on; when it is missing the run says so and skips it.

Each item runs the real offline interviewer the way `tunewise plan --non-interactive` does: the goal text is read,
then each answer is read as the reply to its question (`focus=`), later readings overriding earlier ones as the
interview's `absorb` does, and what is still unread takes the interview's assumed default. Both the expected and
the read facts are decided with OpenAI fine-tuning taken as open (Facts' default), so the score measures reading,
not the calendar. Items whose hand-written approach/path disagree with decide() on their own labels are listed:
those are labelling errors, not reading errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.decision import LARGE_DATASET, MIN_GOOD_EXAMPLES, Facts, decide  # noqa: E402
from tools.decision import MODIFIERS as _MODIFIERS  # noqa: E402
from tools.decision import PRIMARY as _PRIMARY  # noqa: E402

DEV = (REPO / "tests" / "data" / "goals_dev.jsonl", REPO / "tests" / "data" / "goals_blind1.jsonl")
HELDOUT = REPO / "tests" / "data" / "goals_heldout.jsonl"
PRIMARY = tuple(_PRIMARY.values())  # the steps' answers and their modifiers, from the one vocabulary
MODIFIERS = tuple(_MODIFIERS)
APPROACHES = ("prompt_engineering", "rag", "fine_tune", "fine_tune_rag", "collect_more_data")
TUNED = ("fine_tune", "fine_tune_rag")
SHORT = {
    "prompt_engineering": "prompt",
    "rag": "rag",
    "fine_tune": "ft",
    "fine_tune_rag": "ft+rag",
    "collect_more_data": "collect",
}


class CorpusError(ValueError):
    pass


def load(path: Path) -> list[dict]:
    """Read the items of a corpus file; a bad line stops with the file, the line and what to fix."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{n}: not valid JSON ({e.msg}); write one JSON object per line") from None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("goal"), str)
            or not isinstance(item.get("labels"), dict)
        ):
            raise CorpusError(f"{path}:{n}: each line needs a 'goal' string and a 'labels' object")
        unknown = set(item["labels"]) - set(PRIMARY) - set(MODIFIERS)
        if unknown:
            raise CorpusError(f"{path}:{n}: unknown label(s) {sorted(unknown)}; use {', '.join(PRIMARY + MODIFIERS)}")
        answers = item.get("answers") or {}
        if not isinstance(answers, dict) or set(answers) - set(PRIMARY):
            raise CorpusError(f"{path}:{n}: 'answers' keys must be among {', '.join(PRIMARY)}")
        try:
            expected_facts(item)
        except ValueError as e:
            raise CorpusError(f"{path}:{n}: labels do not fit the framework's facts: {e}") from None
        item.setdefault("id", f"{path.stem}:{n}")
        items.append(item)
    return items


def expected_facts(item: dict) -> Facts:
    """Return the labelled facts; null (not said) takes the default, as the non-interactive plan assumes."""
    return Facts(**{k: v for k, v in item["labels"].items() if v is not None})


def read_facts(reader: Any, item: dict) -> Facts:
    """Return the facts the interviewer reads: the goal text, then each answer as the reply to its question."""
    from graphs.interview import absorb, defaults, known

    facts: dict = {}
    facts.update(absorb(facts, reader.extract(item["goal"])))
    for fact, answer in (item.get("answers") or {}).items():
        facts.update(absorb(facts, reader.extract(str(answer), focus=fact), asked=fact))
    return Facts(**{**defaults(), **known(facts)})


def bucket(examples: int) -> str:
    """Return what the decision makes of a count: too few, enough, or a large (enterprise-scale) dataset."""
    return "few" if examples < MIN_GOOD_EXAMPLES else "large" if examples >= LARGE_DATASET else "enough"


def score(items: list[dict], reader: Any) -> dict:
    """Every figure the report prints, for one part of the corpus."""
    per_fact: Counter = Counter()
    exact_examples = 0
    confusion: Counter = Counter()
    approach_ok = path_ok = path_n = 0
    misses, label_errors = [], []
    for item in items:
        want = expected_facts(item)
        got = read_facts(reader, item)
        want_d, got_d = decide(want), decide(got)
        if item.get("approach") and (
            item["approach"] != want_d.approach
            or item["approach"] in TUNED
            and item.get("path") != want_d.path_if_fine_tuning
        ):  # a path matters only when tuning
            label_errors.append(
                f"{item['id']}: labelled {item['approach']}/{item.get('path')}, the facts give "
                f"{want_d.approach}/{want_d.path_if_fine_tuning}"
            )
        expected_approach = item.get("approach") or want_d.approach
        expected_path = item.get("path") or want_d.path_if_fine_tuning
        for fact in PRIMARY + MODIFIERS:
            a, b = getattr(want, fact), getattr(got, fact)
            per_fact[fact] += (bucket(a) == bucket(b)) if fact == "examples" else (a == b)
        exact_examples += want.examples == got.examples
        confusion[(expected_approach, got_d.approach)] += 1
        approach_ok += got_d.approach == expected_approach
        if expected_approach in TUNED:
            path_n += 1
            path_ok += got_d.path_if_fine_tuning == expected_path
        wrong = {
            f: (getattr(want, f), getattr(got, f))
            for f in PRIMARY + MODIFIERS
            if (
                bucket(getattr(want, f)) != bucket(getattr(got, f))
                if f == "examples"
                else getattr(want, f) != getattr(got, f)
            )
        }
        if (
            got_d.approach != expected_approach
            or expected_approach in TUNED
            and got_d.path_if_fine_tuning != expected_path
        ):
            misses.append(
                (item["id"], expected_approach, got_d.approach, expected_path, got_d.path_if_fine_tuning, wrong)
            )
    n = len(items)
    return {
        "n": n,
        "per_fact": {f: per_fact[f] / n for f in PRIMARY + MODIFIERS},
        "examples_exact": exact_examples / n,
        "confusion": confusion,
        "approach_accuracy": approach_ok / n,
        "path_accuracy": path_ok / path_n if path_n else None,
        "path_n": path_n,
        "misses": misses,
        "label_errors": label_errors,
    }


def report(name: str, result: dict, *, show_misses: bool = False) -> None:
    print(f"\n== {name}: {result['n']} items ==")
    print("per-fact accuracy (examples: the same decision bucket <50 / 50-9,999 / 10,000+):")
    for fact, acc in result["per_fact"].items():
        print(f"  {fact:<15} {acc:.3f}")
    print(f"  {'examples exact':<15} {result['examples_exact']:.3f}")
    print("approach confusion (rows: expected, columns: read):")
    print("  " + " " * 10 + "".join(f"{SHORT[a]:>9}" for a in APPROACHES))
    for want in APPROACHES:
        print(f"  {SHORT[want]:<10}" + "".join(f"{result['confusion'][(want, got)]:>9}" for got in APPROACHES))
    print(f"approach accuracy: {result['approach_accuracy']:.3f}")
    path = result["path_accuracy"]
    print(
        f"path accuracy:     {'n/a' if path is None else f'{path:.3f}'} (over {result['path_n']} items that fine-tune)"
    )
    for line in result["label_errors"]:
        print(f"  LABEL ERROR {line}")
    if show_misses:
        for id_, wa, ga, wp, gp, wrong in result["misses"]:
            print(f"  miss {id_}: approach {wa} -> {ga}, path {wp} -> {gp}; facts (want, read): {wrong}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dev",
        type=Path,
        action="append",
        metavar="FILE",
        help="a tuned-on corpus; repeat for several (default: goals_dev.jsonl and goals_blind1.jsonl)",
    )
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--show-misses", action="store_true", help="list each item read to a wrong approach or path")
    parser.add_argument(
        "--rules-only", action="store_true", help="read with the rules alone, without the MiniLM similarity pass"
    )
    args = parser.parse_args(argv)
    from agent.interviewer.offline import OfflineInterviewer

    if args.rules_only:
        reader = OfflineInterviewer(rules_only=True)
    else:
        from tools.rag.embedders import get_embedder

        reader = OfflineInterviewer(get_embedder("local"))
    print(f"reader: offline interviewer, {'rules only' if args.rules_only else 'rules + MiniLM similarity'}")
    status = 0
    parts = [(f"dev {path.name} (tuned on)", path) for path in args.dev or DEV]
    for name, path in [*parts, ("held-out (never tuned on)", args.heldout)]:
        if not path.exists():
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            print(f"\n== {name}: skipped, {shown} does not exist (no held-out figures in this run) ==")
            continue
        try:
            items = load(path)
        except CorpusError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 2
            continue
        report(name, score(items, reader), show_misses=args.show_misses)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
