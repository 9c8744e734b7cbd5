"""The goal's two-pass reading: the rules at once, without loading torch; the full reading in the background."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from pathlib import Path

from agent.interviewer.early import GoalReading
from graphs.confirm import corrections
from tests.fakes.scripted_reader import ScriptedReader, said

REPO = Path(__file__).resolve().parents[1]
GOAL = (
    "Write in our house style and answer from our knowledge base, which is updated daily. 2,500 styled answers, "
    "prompting fell short, customer data must stay on our servers."
)


def test_the_quick_pass_reads_the_rules_without_loading_torch():
    code = (
        "import sys\n"
        "from agent.interviewer import early\n"
        "from agent.interviewer.offline import OfflineInterviewer\n"
        f"found = {{f.fact: f.value for f in early.start({GOAL!r}, OfflineInterviewer()).quick}}\n"
        "print(sorted(found.items()))\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = dict(ast.literal_eval(proc.stdout))  # a printed list of (fact, value) pairs
    assert found["examples"] == 2500 and found["prompting"] == "fell_short" and found["private"] is True


def test_the_full_reading_waits_only_when_asked_for_and_says_why():
    gate, waited = threading.Event(), []

    class Waiting:
        def __enter__(self):
            waited.append(True)
            gate.set()  # the person "waits" here; the load finishes meanwhile

        def __exit__(self, *exc):
            return False

    full = ScriptedReader({"g": [said("stable", True, "g", how="inferred")]}, gate=gate)
    reading = GoalReading("g", full, ScriptedReader({"g": [said("examples", 3, "g")]}), wait=Waiting)
    assert [f.fact for f in reading.quick] == ["examples"] and full.calls == [] and not reading.ready()
    assert [f.fact for f in reading.result()] == ["stable"] and waited == [True]
    assert [f.fact for f in reading.result()] == ["stable"] and waited == [True]  # read once, no second wait


def test_corrections_are_split_by_item_number():
    assert corrections("3: we have 400 NDAs") == [(3, "we have 400 NDAs")]
    assert corrections("3: we have 400 NDAs; 5: it may go to OpenAI") == [
        (3, "we have 400 NDAs"),
        (5, "it may go to OpenAI"),
    ]
    assert corrections("2) both and 4 - it changes monthly") == [(2, "both"), (4, "it changes monthly")]
    assert corrections("item 3 = about 1,200") == [(3, "about 1,200")]
    assert corrections("we have 400 NDAs") == [(None, "we have 400 NDAs")]
