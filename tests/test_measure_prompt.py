"""Step 1 measured (issue 27): `plan --measure-prompt` scores the base and the prompted model on held-out examples
of --data with `tunewise eval`'s machinery, and step 1 is answered from the numbers: "measured", with the score,
its interval and the target, and the recommendation follows them.

Against the fake OpenAI server (a labelling task: the prompted model, which sees few-shot examples, labels well;
the bare one does not) and against the tests' tiny local model on CPU.
"""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from agent.cli import app

LABELS = {"refund": "billing", "invoice": "billing", "crash": "technical", "login": "technical", "upgrade": "sales"}
GOAL = "Route support tickets to billing, technical or sales. Our data may go to OpenAI. The labels are stable."


def _labels(path, n=120):
    rng = random.Random(3)
    with path.open("w") as fh:
        for i in range(n):
            word = rng.choice(sorted(LABELS))
            user = f"Ticket {i}: my {word} problem, case {rng.randint(1000, 9999)}"
            fh.write(
                json.dumps(
                    {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": LABELS[word]}]}
                )
                + "\n"
            )
    return path


def _responder(right_share: float):
    """Prompted requests (few-shot turns before the question) are labelled right `right_share` of the time."""
    seen = {"n": 0}

    def reply(request):
        messages = request["messages"]
        question = messages[-1]["content"]
        word = next((w for w in LABELS if w in question), "refund")
        if len(messages) <= 2:
            return "I am not sure which team."
        seen["n"] += 1
        return LABELS[word] if (seen["n"] % 10) < right_share * 10 else "sales"

    return reply


def _plan(tmp_path, *extra):
    data = _labels(tmp_path / "tickets.jsonl")
    args = ["plan", "--goal", GOAL, "--data", str(data), "--measure-prompt", "--measure-examples", "20"]
    return [*args, "--non-interactive", "--json", "--today", "2026-12-06", *extra]


def test_a_target_inside_the_interval_gives_prompt_engineering(tmp_path, monkeypatch):
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        fake.chat.responder = _responder(1.0)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        refused = CliRunner().invoke(app, _plan(tmp_path, "--prompt-model", "openai:gpt-4.1-mini", "--target", "90%"))
        assert refused.exit_code == 2 and "no --budget covers it" in refused.output
        assert fake.calls("POST", "/v1/chat/completions") == []  # priced and refused before any request
        result = CliRunner().invoke(
            app, _plan(tmp_path, "--prompt-model", "openai:gpt-4.1-mini", "--target", "90%", "--budget", "5")
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        asked = len(fake.calls("POST", "/v1/chat/completions"))
    step = out["steps"][0]
    assert step["step"] == "prompt" and step["source"] == "measured" and step["answer"] == "good_enough"
    m = step["measurement"]
    assert m["metric"] == "label_accuracy" and m["prompted"] == 1.0 and m["base"] < 0.5
    assert m["target"] == 0.9 and m["examples"] == 20 and m["cost_usd"] >= 0  # cents: short tickets
    assert m["interval"][0] <= m["prompted"] <= m["interval"][1]
    assert out["recommendation"]["approach"] == "prompt_engineering"
    assert "Step 1 was measured on 20 held-out examples" in out["recommendation"]["rationale"]
    assert asked == 40  # base and prompted, 20 examples each


def test_a_target_far_above_gives_fine_tuning_and_a_rerun_pays_nothing(tmp_path, monkeypatch):
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        fake.chat.responder = _responder(0.6)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        goal = GOAL + " We have 120 good examples; the prompted model must get 99% right."
        args = _plan(tmp_path, "--prompt-model", "openai:gpt-4.1-mini", "--budget", "5")
        args[args.index("--goal") + 1] = goal
        out = json.loads(CliRunner().invoke(app, args).stdout)
        step = out["steps"][0]
        assert step["source"] == "measured" and step["answer"] == "fell_short"
        assert step["measurement"]["target"] == 0.99  # read from the goal
        assert "points short of the 99% target" in step["evidence"]
        assert out["recommendation"]["approach"] == "fine_tune"


def test_measured_on_a_local_model_on_cpu(tmp_path):
    from tests.fakes.hash_embedder import HashEmbedder
    from tests.fakes.tiny_model import build_tiny_model
    from tools.builders import generator_loader
    from tools.measure.prompt import MeasureInput, run

    model = build_tiny_model(tmp_path / "tiny", max_positions=2048)
    data = _labels(tmp_path / "tickets.jsonl", 60)
    inp = MeasureInput(
        data=data, model=f"hf:{model}", held_out=25, examples=20, target=0.2, max_new_tokens=4, out=tmp_path / "m"
    )
    first = run(inp, load=generator_loader(), embedder=HashEmbedder(dimension=64))
    assert first.examples == 20 and first.metric == "label_accuracy" and first.verdict in ("good_enough", "fell_short")
    assert first.interval[0] <= first.prompted <= first.interval[1]
    # the held-out sample is the plan's own: the split the plan's split step will make from the same file and size
    from tools.dataset.split import SplitInput
    from tools.dataset.split import run as split

    again = split(SplitInput(path=data, eval=25, out=tmp_path / "plan-split"), embedder=None)
    planned = (tmp_path / "plan-split" / "eval.jsonl").read_text().splitlines()[:20]
    assert (tmp_path / "m" / "sample.jsonl").read_text().splitlines() == planned and again.eval_examples == 25
    # a finished measurement is not run again
    assert run(inp, load=lambda spec: pytest.fail("generated again"), embedder=None) == first


def test_a_private_plan_never_measures_on_a_hosted_api(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    args = _plan(tmp_path, "--prompt-model", "openai:gpt-4.1-mini", "--budget", "5")
    args[args.index("--goal") + 1] = (
        "Route support tickets to billing, technical or sales. Tickets stay on our servers."
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "refused: the measure step would send the held-out examples" in result.output


def _candidate(name, mean, low, high):
    from tools.evaluation.schema import CandidateResult, MetricValue

    return CandidateResult(
        name=name, spec=f"hf:{name}", n=50, metrics={"label_accuracy": MetricValue(mean=mean, low=low, high=high)}
    )


def _measured(prompted, interval, target):
    from tools.measure.prompt import Measurement, judge

    verdict, short_by = judge(prompted, interval[1], target)
    return Measurement(
        metric="label_accuracy", base=0.5, prompted=prompted, interval=interval, target=target, examples=400,
        cost_usd=0.0, model="hf:tiny", verdict=verdict, short_by=short_by, held_out=400, report_dir="r",
    )  # fmt: skip


def test_a_measured_prompt_close_to_its_target_is_judged_as_the_goal_s_words_are():
    # A large sample's tight interval ends below the target, but the prompt is close: 86% against 88% leaves a
    # seventh of its errors to fix, which the goal's own words "86%, we need 88%" read as good enough too.
    close = _measured(0.86, (0.83, 0.875), 0.88)
    assert close.verdict == "good_enough" and close.short_by == 2.0
    assert close.sentence().endswith(
        "2 points short of the 88% target: 14% of its errors to fix, close enough for a better prompt"
    )
    from agent.interviewer.scores import compare

    said = compare("Our prompt gets 86% of tickets right; we need 88%.")
    assert said is not None and said.verdict == close.verdict
    # Within the interval: the sample cannot tell the prompt from the target, whatever is left to fix.
    noisy = _measured(0.70, (0.52, 0.86), 0.85)
    assert noisy.verdict == "good_enough" and noisy.sentence().endswith(
        "15 points short of the 85% target, within its interval"
    )
    # Short by half its errors, the interval well below: a better prompt is not the answer.
    far = _measured(0.80, (0.76, 0.84), 0.90)
    assert far.verdict == "fell_short" and far.sentence().endswith("10 points short of the 90% target")
    reached = _measured(0.91, (0.88, 0.94), 0.90)
    assert reached.verdict == "good_enough" and reached.sentence().endswith("which reaches the 90% target")
    assert _measured(0.91, (0.88, 0.94), None).verdict is None


def test_gap_closure_says_whether_fine_tuning_earned_its_cost():
    from tools.evaluation.gap import gap_closure

    earned = gap_closure(
        [
            _candidate("tuned", 0.96, 0.92, 0.99),
            _candidate("base", 0.50, 0.4, 0.6),
            _candidate("prompted", 0.80, 0.7, 0.88),
        ],
        target=0.95,
    )
    assert earned is not None and earned.metric == "label_accuracy" and earned.prompt_share == pytest.approx(0.652)
    assert earned.tuned_to_target == 1.0 and earned.earned
    assert earned.sentence.endswith("the tuned model is 1 points above the 95% target; fine-tuning earned its cost")
    not_yet = gap_closure(
        [
            _candidate("tuned", 0.84, 0.75, 0.9),
            _candidate("base", 0.50, 0.4, 0.6),
            _candidate("prompted", 0.80, 0.7, 0.88),
        ],
        target=0.95,
    )
    assert not_yet is not None and not not_yet.earned and not_yet.tuned_to_target == -11.0
    assert gap_closure([_candidate("base", 0.5, 0.4, 0.6), _candidate("prompted", 0.8, 0.7, 0.9)]) is None


def test_the_interactive_flow_offers_the_measurement_with_its_price_and_shows_the_numbers(tmp_path):
    import os
    import re
    import sys
    from pathlib import Path

    pexpect = pytest.importorskip("pexpect")
    from tests.fakes.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", max_positions=2048)
    data = _labels(tmp_path / "tickets.jsonl", 120)
    repo = Path(__file__).resolve().parents[1]
    args = ["-m", "tests.fakes.plan_cli", "plan", "Route tickets to the right team; tickets stay on our servers."]
    args += ["--data", str(data), "--answer", f"base_model={model}", "--answer", "max_new_tokens=4"]
    args += [
        "--answer",
        "problem=behaviour",
        "--answer",
        "stability=stable",
        "--measure-examples",
        "20",
        "--target",
        "90%",
    ]
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "160", "TERM": "xterm-256color", "OMP_NUM_THREADS": "1"}
    child = pexpect.spawn(
        sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=300, dimensions=(60, 160)
    )
    child.expect(r"Measure it now\?")
    offer = " ".join(re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", child.before).split())
    assert f"I can measure it instead of asking: score hf:{model} with and without a prompt" in offer
    assert "on 20 held-out examples of tickets.jsonl; your target: 90%. Cost $0," in offer
    child.sendline("y")
    screen = ""
    while True:
        i = child.expect([r"› ", r"Approve .*\? approve / reject / budget USD", pexpect.EOF])
        screen += child.before
        if i == 0:
            child.sendline("")  # keep what was read, accept the confirm list
        elif i == 1:
            child.sendline("reject")
        else:
            break
    child.close()
    text = " ".join(re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\r", "", screen).split())
    assert "✓ measure" in text and "points short of the 90% target" in text
    table = text.split("The five steps", 1)[1]
    assert re.search(
        r"1\. Can a better prompt solve it\? │ fell_short: \d+% \[\d+%-\d+%\] vs 90% target │ measured", table
    )


def test_a_killed_measurement_pays_for_no_reply_twice(tmp_path):
    from tools.measure.prompt import MeasureInput, run
    from tools.models.generation import Generation

    class Counting:
        """A generator that labels every ticket right, counts what it generated, and can die mid-run."""

        def __init__(self, die_after: int | None = None) -> None:
            self.generated, self.die_after = 0, die_after

        def generate(self, conversations, *, max_new_tokens=256, temperature=0.0):
            if self.die_after is not None and self.generated >= self.die_after:
                raise KeyboardInterrupt  # the kill
            self.generated += len(conversations)
            out = []
            for conv in conversations:
                word = next((w for w in LABELS if w in conv[-1]["content"]), "refund")
                out.append(Generation(text=LABELS[word], prompt_tokens=10, completion_tokens=1, finish_reason="stop"))
            return out

        def stream(self, *a, **k):
            raise NotImplementedError

    data = _labels(tmp_path / "tickets.jsonl", 200)
    inp = MeasureInput(
        data=data, model="openai:gpt-4.1-mini@http://127.0.0.1:9/v1", held_out=24, examples=24, out=tmp_path / "m"
    )
    first = Counting(die_after=32)  # base's 24, then one batch of 8 of the prompted candidate's 24
    from tests.fakes.hash_embedder import HashEmbedder

    with pytest.raises(KeyboardInterrupt):
        run(inp, load=lambda spec: first, embedder=HashEmbedder(dimension=64))
    assert first.generated == 32
    again = Counting()
    done = run(inp, load=lambda spec: again, embedder=HashEmbedder(dimension=64))
    assert again.generated == 16  # only the prompted candidate's last two batches
    assert done.prompted == 1.0 and done.examples == 24


def test_no_offer_to_measure_on_a_hosted_api_while_the_data_stays_in_house(tmp_path, monkeypatch):
    from agent.commands import plan

    monkeypatch.setattr("typer.confirm", lambda *a, **k: pytest.fail("offered"))
    data = _labels(tmp_path / "tickets.jsonl")
    asked = {"model": "openai:gpt-4.1-mini", "examples": 20, "target": 0.9}
    assert plan._offer(asked, data, 5.0, "Route tickets to the right team.", {}) is None  # unsaid: in-house
    monkeypatch.setattr("typer.confirm", lambda *a, **k: True)
    assert plan._offer(asked, data, 5.0, "Route tickets; our data may go to OpenAI.", {}) == asked
