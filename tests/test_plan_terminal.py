"""`tunewise plan` as a person meets it: driven through a real pseudo-terminal (pexpect), reading the screen.

The processes run tests/fakes/plan_cli.py, the real CLI with the hash embedder in MiniLM's place (no torch to
load per process); what is asserted is the flow and what the screen shows, not how well text is read.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|[\r\x08]")
TITLES = {
    "1. Can a better prompt solve it?": "yes, we tried it for weeks and it fell short",
    "2. Is the problem knowledge or behaviour?": "behaviour: the clause order and wording",
    "3. Is there enough good training data?": "30",
    "4. Is the behaviour stable?": "stable",
    "5. Which path?": "it must stay on our own servers",
}
NDA = "Our legal team wants a model that drafts NDAs in our firm's exact clause structure."


def _spawn(args: list[str], cwd) -> "pexpect.spawn":
    env = {**os.environ, "COLUMNS": "160", "LINES": "60", "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    return pexpect.spawn(
        sys.executable,
        ["-m", "tests.fakes.plan_cli", *args],
        env=env,
        cwd=str(cwd),
        encoding="utf-8",
        timeout=180,
        dimensions=(60, 160),
    )


def _screen(text: str) -> str:
    return " ".join(ANSI.sub("", text).split())


def test_interactive_questions_confirm_a_correction_and_the_result(tmp_path):
    child = _spawn(["plan", NDA, "--today", "2026-04-01"], tmp_path)
    screen, confirms, asked = "", 0, []
    while child.expect(["› ", pexpect.EOF]) == 0:
        chunk = _screen(child.before)
        screen += " " + chunk
        if "Before I decide, this is what I read:" in chunk:
            confirms += 1
            items = chunk.rsplit("Before I decide, this is what I read:", 1)[1]
            assert all(f" {n}. " in f" {items}" for n in range(1, 6)) and "Press Enter if that is right" in items
            assert re.search(r"\((stated|inferred|asked|assumed)\)", items)
            if confirms == 1:
                assert "The five steps" not in screen  # nothing is decided before the list is accepted
                child.sendline("3: we have 400 NDAs")
            else:
                assert "400 good examples (stated) “corrected: we have 400 NDAs”" in items
                child.sendline("")
            continue
        question = chunk.rsplit("Why it matters:", 1)[0]
        title = next((t for t in TITLES if t in question), None)
        assert title and "Why it matters:" in chunk, chunk[-500:]
        asked.append(title)
        child.sendline(TITLES[title])
        assert len(asked) < 12, asked
    child.close()
    screen += " " + _screen(child.before)
    assert child.exitstatus == 0, screen[-2000:]
    assert confirms == 2 and asked[0] == "1. Can a better prompt solve it?"
    result = screen.rsplit("Before I decide", 1)[1]
    table = result.split("The five steps", 1)[1]
    assert re.search(r"step\W+answer\W+source\W+evidence", table) and "5. Which path?" in table
    assert "corrected: we have 400 NDAs" in result  # the decision used the corrected fact
    # 400 NDAs that stay in-house: QLoRA (a legal domain may count as complex, hence the 70B variant)
    assert re.search(r"Recommendation: fine_tune · qlora_(self_hosted|70b)", result) and "Costed plan" in result
    assert "Next: nothing runs until you give --data FILE" in result


@pytest.mark.parametrize(
    "answers,approach,shows",
    [
        # The goal is vague on purpose ("answer customers" reads as knowledge, inferred), so the answers say it all.
        (["prompt=no", "problem=behaviour"], "prompt_engineering", ["Starter system prompt", "80% of the way"]),
        (["problem=knowledge"], "rag", ["Costed plan", "needs --docs DIR"]),
        (
            ["prompt=fell short", "problem=behaviour", "data=800", "stability=stable", "path=it may go to OpenAI"],
            "fine_tune · openai_gpt41_mini",
            ["Costed plan", "tools.train"],
        ),
        (
            ["prompt=fell short", "problem=both", "data=2500", "stability=stable", "path=must stay on our servers"],
            "fine_tune_rag · qlora_self_hosted",
            ["Costed plan", "tools.index"],
        ),
        (
            ["prompt=fell short", "problem=behaviour", "data=20", "stability=stable"],
            "collect_more_data",
            ["Collect: you have 20; collect at least 80 more to reach 100"],
        ),
    ],
)
def test_non_interactive_human_output_for_every_approach(tmp_path, answers, approach, shows):
    args = ["plan", "--goal", "Help our support team answer customers.", "--non-interactive", "--today", "2026-04-01"]
    child = _spawn(args + [f"--answer={a}" for a in answers], tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    screen = _screen(child.before)
    assert child.exitstatus == 0, screen[-1500:]
    assert "The five steps" in screen and "5. Which path?" in screen
    assert f"Recommendation: {approach}" in screen
    assert "Next:" in screen and "Before I decide" not in screen  # nobody to confirm with in a script
    for text in shows:
        assert text in screen, text


def test_a_goal_in_another_language_is_shown_as_guesses_to_check(tmp_path):
    # Written for this test: a Spanish goal with a few English words. The offline reader reads English, so the
    # confirm list says its readings are guesses, right under its heading.
    goal = "Queremos que el bot de soporte conteste con el tono de nuestros agentes, el prompt actual suena muy frío"
    child = _spawn(["plan", goal, "--today", "2026-04-01"], tmp_path)
    screen = ""
    for _ in range(12):
        child.expect("› ")
        screen += " " + _screen(child.before)
        if "Before I decide, this is what I read:" in screen:
            break
        child.sendline("")  # skip each question: the list still comes
    listed = screen.rsplit("Before I decide, this is what I read:", 1)[1]
    assert listed.lstrip().startswith("Much of your goal is not in English, and this offline reader reads English")
    assert "set TUNEWISE_LLM_MODEL" in listed and " 1. " in listed
    child.terminate(force=True)
