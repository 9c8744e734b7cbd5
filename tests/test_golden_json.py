"""The `--json` contracts, byte for byte: each command's JSON as it is today, with only what changes from run to run
masked (session ids, temp paths, timings). Issue 33 (the typed session protocol) refactors the code behind these
outputs and must leave them as they are; a change that means to alter a contract rewrites its file on purpose:

    TUNEWISE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_json.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
CHATS = REPO / "examples" / "support_chat.jsonl"
DOCS = REPO / "examples" / "helpcentre"
TODAY = ["--today", "2026-12-06"]

CASES: dict[str, list[str]] = {
    "validate": ["validate", str(CHATS), "--json"],
    "estimate": ["estimate", str(CHATS), "--requests-per-month", "100000", "--prompt-tokens", "2000", "--json", *TODAY],
    "plan_private_rag": [
        "plan",
        "Answer in our house style and from our help pages, which change often. We have 300 good chats in that "
        "style and a careful prompt fell short. Chats must stay on our servers.",
        "--data",
        str(CHATS),
        "--docs",
        str(DOCS),
        "--non-interactive",
        "--json",
        *TODAY,
    ],
    "plan_openai_new_org": [
        "plan",
        "We're a startup and our data may go to OpenAI. We want replies in our brand voice, which is stable. We have "
        "3,000 good examples and a careful prompt fell short.",
        "--non-interactive",
        "--json",
        *TODAY,
    ],
    "plan_openai_customer": [
        "plan",
        "Our data may go to OpenAI and our brand voice is stable. We have 3,000 good examples, a careful prompt fell "
        "short, and we served a fine-tuned OpenAI model last month.",
        "--non-interactive",
        "--json",
        *TODAY,
    ],
    "plan_prompt_first": [
        "plan",
        "Make replies more concise; we haven't tried a system prompt.",
        "--non-interactive",
        "--json",
        *TODAY,
    ],  # fmt: skip
    "plan_collect": [
        "plan",
        "Fine-tune on our 25 examples of legal summaries; a careful prompt was not good enough.",
        "--non-interactive",
        "--json",
        *TODAY,
    ],  # fmt: skip
}


def _masked(text: str, tmp: Path) -> str:
    """Mask what differs between runs: the session id, the temp folder, the repository's place, and times."""
    data = json.loads(text)
    session = data.get("session") if isinstance(data, dict) else None
    if session:
        text = text.replace(session, "SESSION")
    text = text.replace(str(tmp), "TMP").replace(str(REPO), "REPO")
    return re.sub(r'"(seconds|created_at|updated|elapsed_s)": ("[^"]*"|[\d.]+)', r'"\1": "MASKED"', text)


@pytest.mark.parametrize("name", list(CASES))
def test_the_json_contract_is_unchanged(name, tmp_path):
    result = CliRunner().invoke(app, CASES[name])
    assert result.exit_code in (0, 1), result.output  # validate exits 1 when the file has errors
    got = json.dumps(json.loads(_masked(result.stdout, tmp_path)), indent=1, sort_keys=False, ensure_ascii=False)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("TUNEWISE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(got + "\n", "utf-8")
    assert path.is_file(), f"no golden file: run with TUNEWISE_UPDATE_GOLDEN=1 to write {path.name}"
    assert got + "\n" == path.read_text("utf-8"), f"{name}: --json differs from tests/golden/{name}.json"
