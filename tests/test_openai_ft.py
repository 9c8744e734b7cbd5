"""The OpenAI fine-tuning backend against the fake OpenAI server, through the real `openai` client."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.cli import _Group
from agent.cli import app as cli_app
from agent.commands.openai_train import run_openai_train
from tests.fakes.openai_finetune import JobScript
from tests.fakes.openai_server import FAKE_API_KEY, openai_server  # noqa: F401 - fixture
from tools.approval import approve
from tools.clients import get_openai_client
from tools.errors import TunewiseError
from tools.openai_ft.finetune import OpenAITrainInput, prepare, run
from tools.progress import Update

CREATE = r"/v1/fine_tuning/jobs"
LIVE_KEY = os.environ.get("OPENAI_API_KEY")  # read before the autouse fixture removes it; only live tests use it


def _write(path: Path, n: int = 12, secret: bool = False) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            answer = f"The answer is {2 * i}." + (
                " Use key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB." if secret and i == 3 else ""
            )
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {"role": "system", "content": "Answer briefly."},
                            {"role": "user", "content": f"What is {i} doubled?"},
                            {"role": "assistant", "content": answer},
                        ]
                    }
                )
                + "\n"
            )
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return _write(tmp_path / "train.jsonl")


def _client(timeout: float = 5.0):
    return get_openai_client(max_retries=0, timeout=timeout)


def _no_sleep(seconds: float) -> None:
    pass


def _train(data: Path, **overrides):
    """Run `run_openai_train` as the train command would, through the CLI's error handling."""
    kwargs = dict(
        model="gpt-4.1-mini",
        eval_file=None,
        epochs=None,
        batch_size=None,
        lr_multiplier=None,
        suffix=None,
        seed=None,
        method="sft",
        output=None,
        wait=True,
        yes=True,
        plan=None,
        allow_secrets=False,
        json_out=False,
    )
    kwargs.update(overrides)
    app = typer.Typer(cls=_Group, add_completion=False)

    @app.callback(invoke_without_command=True)
    def main() -> None:
        run_openai_train(data, **kwargs)

    return CliRunner().invoke(app, [])


def test_timed_out_create_then_retry_makes_exactly_one_job(openai_server, data):  # noqa: F811
    openai_server.hang("POST", CREATE)  # OpenAI creates the job, the answer is lost
    inp = OpenAITrainInput(data=data, wait=False)
    result = run(inp, client=_client(timeout=0.5), sleep=_no_sleep)
    assert len(openai_server.finetune.jobs) == 1
    assert len(openai_server.calls("POST", CREATE)) == 1  # the lookup found it: no second create
    assert result.attached and result.job_id in openai_server.finetune.jobs
    assert all(r.headers["x-stainless-retry-count"] == "0" for r in openai_server.calls("POST", CREATE))
    record = json.loads((Path(result.run_dir) / "run.json").read_text())
    assert record["job_id"] == result.job_id and record["run_hash"] == result.run_hash

    again = run(inp, client=_client(), sleep=_no_sleep)  # the same command again attaches
    assert again.job_id == result.job_id and again.attached
    assert len(openai_server.finetune.jobs) == 1 and len(openai_server.calls("POST", CREATE)) == 1


def test_create_lost_before_commit_is_created_once_on_retry(openai_server, data):  # noqa: F811
    openai_server.hang("POST", CREATE, commit=False)
    result = run(OpenAITrainInput(data=data, wait=False), client=_client(timeout=0.5), sleep=_no_sleep)
    assert len(openai_server.finetune.jobs) == 1 and not result.attached
    assert len(openai_server.calls("POST", CREATE)) == 2


def test_429_and_500_on_create_are_retried_after_a_lookup(openai_server, data):  # noqa: F811
    openai_server.fail("POST", CREATE, 429, retry_after=0.01)
    openai_server.fail("POST", CREATE, 500, on_call=2)
    delays: list[float] = []
    result = run(OpenAITrainInput(data=data, wait=False), client=_client(), sleep=delays.append)
    assert len(openai_server.finetune.jobs) == 1 and len(openai_server.calls("POST", CREATE)) == 3
    assert delays == [0.01, 1.0]  # Retry-After wins; then exponential backoff
    assert len(openai_server.calls("GET", CREATE)) >= 3  # a metadata lookup before each create
    assert openai_server.calls("GET", CREATE)[-1].query["metadata[tunewise_run]"] == [result.run_hash]


def test_crash_before_the_record_is_written_reattaches(openai_server, data):  # noqa: F811
    first = run(OpenAITrainInput(data=data, wait=False), client=_client(), sleep=_no_sleep)
    (Path(first.run_dir) / "run.json").unlink()  # as if killed between create and the write
    again = run(OpenAITrainInput(data=data, wait=True), client=_client(), sleep=_no_sleep)
    assert again.job_id == first.job_id and again.status == "succeeded"
    assert len(openai_server.finetune.jobs) == 1


def test_upload_is_reused_by_content(openai_server, data, tmp_path):  # noqa: F811
    first = run(OpenAITrainInput(data=data, wait=False, suffix="a"), client=_client(), sleep=_no_sleep)
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(data.read_bytes())
    second = run(OpenAITrainInput(data=copy, wait=False, suffix="b"), client=_client(), sleep=_no_sleep)
    assert not first.reused_upload and second.reused_upload
    assert second.training_file_id == first.training_file_id and len(openai_server.calls("POST", "/v1/files")) == 1
    assert len(openai_server.finetune.jobs) == 2  # a different suffix is a different job
    name = openai_server.finetune.files[first.training_file_id]["filename"]
    assert first.training_file_id and "sha256-" in name

    _write(copy, n=13)  # other content, other hash: uploaded afresh
    third = run(OpenAITrainInput(data=copy, wait=False), client=_client(), sleep=_no_sleep)
    assert not third.reused_upload and len(openai_server.calls("POST", "/v1/files")) == 2


def test_alpaca_is_converted_to_chat_before_upload(openai_server, tmp_path):  # noqa: F811
    path = tmp_path / "alpaca.jsonl"
    path.write_text(
        "".join(json.dumps({"instruction": f"Double {i}", "input": "", "output": str(2 * i)}) + "\n" for i in range(12))
    )
    result = run(OpenAITrainInput(data=path, wait=False), client=_client(), sleep=_no_sleep)
    uploaded = openai_server.finetune.contents[result.training_file_id].decode().splitlines()
    assert json.loads(uploaded[1])["messages"][-1] == {"role": "assistant", "content": "2"}


@pytest.mark.parametrize("kind", ["model_not_available", "permission"])
def test_refused_creation_names_the_close_date_and_the_local_alternative(openai_server, data, kind):  # noqa: F811
    openai_server.refuse_create(kind)
    out = _train(data)
    assert out.exit_code == 1
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: OpenAI refused to create the fine-tuning job for gpt-4.1-mini")
    assert "2027-01-06" in line and "--backend unsloth --base-model Llama-3.1-8B" in line
    assert "QLoRA estimate: $" in line and "GB VRAM" in line  # priced by tools.costs.estimate
    assert "Traceback" not in out.output


def test_waiting_shows_events_and_the_billed_figure(openai_server, data, tmp_path):  # noqa: F811
    valid = _write(tmp_path / "valid.jsonl", n=10)
    out = _train(data, eval_file=valid, suffix="demo", epochs="2")
    assert out.exit_code == 0, out.output
    assert "Fine-tuning job started" in out.stderr
    assert "step 6/6: train loss" in out.stderr and "valid loss" in out.stderr
    assert "fine-tuned model: ft:gpt-4.1-mini:tunewise-fake:demo:" in out.stdout
    assert "billed $" in out.stdout and "(estimated $" in out.stdout
    record = json.loads(next((tmp_path / ".tunewise" / "runs").glob("openai-*/run.json")).read_text())
    assert record["status"] == "succeeded" and record["billed_tokens"] > 0 and record["validation_file_id"]
    assert record["hyperparameters"]["n_epochs"] == 2


def test_failed_job_prints_openais_error_and_a_rerun_starts_afresh(openai_server, data):  # noqa: F811
    openai_server.next_job = JobScript(outcome="failed")
    out = _train(data, json_out=True)
    assert out.exit_code == 1
    assert json.loads(out.stdout)["error"]["code"] == "invalid_training_file"
    assert "failed: invalid_training_file: The job failed due to an invalid training file" in out.stderr
    openai_server.next_job = JobScript()
    again = _train(data)
    assert again.exit_code == 0 and "ended failed; starting a new one" in again.stderr
    assert len(openai_server.finetune.jobs) == 2


def test_rerunning_follows_its_job_without_asking_but_never_starts_another_unapproved(openai_server, data):  # noqa: F811
    import time

    openai_server.finetune.step_seconds = 0.5  # still running when the command returns
    openai_server.next_job = JobScript(outcome="failed")
    started = _train(data, wait=False, json_out=True)
    assert started.exit_code == 0, started.output
    job = json.loads(started.stdout)["job_id"]
    following = _train(data, yes=False, wait=False)  # no --yes, no terminal: it must not need an approval
    assert following.exit_code == 0, following.output
    assert f"job {job} was started earlier for this run: following it" in following.stderr
    while openai_server.finetune.list_jobs()[0]["status"] != "failed":
        time.sleep(0.1)
    refused = _train(data, yes=False, wait=False)  # the job failed: a new one would spend, so it is refused
    assert refused.exit_code == 1 and "needs approval" in refused.stderr and "--yes" in refused.stderr
    assert len(openai_server.calls("POST", CREATE)) == 1


def test_cancelled_job_says_so(openai_server, data):  # noqa: F811
    client = _client()
    openai_server.finetune.step_seconds = 60.0  # the job is still running when the cancel arrives

    def cancel_on_first_event(update: Update) -> None:
        if "Created" in (update.message or ""):
            client.fine_tuning.jobs.cancel(openai_server.finetune.list_jobs()[0]["id"])

    result = run(OpenAITrainInput(data=data), client=client, progress=cancel_on_first_event, sleep=_no_sleep)
    assert result.status == "cancelled" and result.fine_tuned_model is None
    assert json.loads((Path(result.run_dir) / "run.json").read_text())["status"] == "cancelled"

    openai_server.finetune.step_seconds = 0.05
    openai_server.next_job = JobScript(outcome="cancelled")  # cancelled from the dashboard while we wait
    out = _train(data, suffix="elsewhere")
    assert out.exit_code == 1 and "Fine-tuning job cancelled" in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("was cancelled — re-run the command to start a new job")


def test_jobs_cancel_after_no_wait_updates_the_run_folder(openai_server, data):  # noqa: F811
    openai_server.finetune.step_seconds = 60.0  # still running when `jobs cancel` arrives
    no_wait = _train(data, wait=False)
    job_id = openai_server.finetune.list_jobs()[0]["id"]
    assert no_wait.exit_code == 0 and f"tunewise jobs show {job_id}" in no_wait.stdout
    run_dir = next(Path(".tunewise/runs").glob("openai-*"))
    assert json.loads((run_dir / "run.json").read_text())["status"] == "validating_files"
    out = CliRunner().invoke(cli_app, ["jobs", "cancel", job_id])
    assert out.exit_code == 0 and f"job {job_id}: cancelled" in out.stdout
    shown = CliRunner().invoke(cli_app, ["jobs", "show", str(run_dir)])
    assert shown.exit_code == 0 and "the job was cancelled" in shown.stdout
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"  # picked up by jobs show
    again = CliRunner().invoke(cli_app, ["jobs", "cancel", job_id])
    assert again.exit_code == 1 and "Job has already completed" in again.stderr


def test_jobs_commands_show_model_checkpoints_and_events(openai_server, data):  # noqa: F811
    result = run(OpenAITrainInput(data=data, wait=True), client=_client(), sleep=_no_sleep)
    shown = CliRunner().invoke(cli_app, ["jobs", "show", result.job_id])
    assert shown.exit_code == 0 and f"fine-tuned model: {result.fine_tuned_model}" in shown.stdout
    assert "checkpoints" in shown.stdout and "ckpt-step-6" in shown.stdout
    detail = json.loads(CliRunner().invoke(cli_app, ["jobs", "show", result.run_dir, "--json"]).stdout)
    assert detail["job"]["fine_tuned_model"] == result.fine_tuned_model and len(detail["checkpoints"]) == 3
    events = CliRunner().invoke(cli_app, ["jobs", "events", result.job_id])
    assert "Step 6/6: training loss=" in events.stdout and events.stdout.index("Created") < events.stdout.index(
        "Step 1/6"
    )
    listed = json.loads(CliRunner().invoke(cli_app, ["jobs", "list", "--json"]).stdout)
    assert [j["id"] for j in listed] == [result.job_id] and listed[0]["run_hash"] == result.run_hash
    missing = CliRunner().invoke(cli_app, ["jobs", "show", "ftjob-nope"])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: not found while reading job ftjob-nope")


def test_spending_needs_approval(openai_server, data, tmp_path):  # noqa: F811
    refused = _train(data, yes=False)
    assert refused.exit_code == 1 and "needs approval" in refused.stderr
    assert openai_server.requests == []  # nothing left the machine

    cost = prepare(OpenAITrainInput(data=data)).estimated_cost_usd
    plan = {"steps": [{"step": "train", "cost_usd": cost}], "total_usd": cost}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"plan": plan, "approval": approve(plan, approved_by="test").model_dump()}))
    assert _train(data, yes=False, plan=plan_file, wait=False).exit_code == 0
    cheap = {"steps": [{"step": "train", "cost_usd": cost / 10}], "total_usd": cost / 10}
    plan_file.write_text(json.dumps({"plan": cheap, "approval": approve(cheap, approved_by="test").model_dump()}))
    over = _train(data, yes=False, plan=plan_file, suffix="other")
    assert over.exit_code == 1 and "more than the" in over.stderr


def test_bad_input_is_one_line(openai_server, data, tmp_path):  # noqa: F811
    secret = _write(tmp_path / "secret.jsonl", secret=True)
    out = _train(secret)
    assert out.exit_code == 1 and "secret" in out.stderr and ":4:" in out.stderr and "--allow-secrets" in out.stderr
    assert openai_server.calls("POST", "/v1/files") == []
    assert _train(secret, allow_secrets=True, wait=False).exit_code == 0
    assert _train(data, epochs="many").exit_code == 2
    assert _train(data, method="dpo").exit_code == 2  # chat data is not preference data
    assert _train(tmp_path / "missing.jsonl").exit_code == 1


def test_api_key_is_absent_from_files_and_output(openai_server, data, tmp_path):  # noqa: F811
    outputs = [_train(data, json_out=True, suffix="a"), _train(data, suffix="b")]
    openai_server.next_job = JobScript(outcome="failed")
    outputs.append(_train(data, suffix="c"))
    openai_server.refuse_create("permission")
    outputs.append(_train(data, suffix="d"))
    job = openai_server.finetune.list_jobs()[0]["id"]
    for args in (["jobs", "list"], ["jobs", "show", job], ["jobs", "events", job], ["jobs", "cancel", job]):
        outputs.append(CliRunner().invoke(cli_app, args))
    openai_server.api_key = "sk-the-server-wants-another-key"  # a 401 must not echo the key either
    outputs.append(CliRunner().invoke(cli_app, ["jobs", "list"]))
    assert outputs[-1].exit_code == 1 and "rejected the API key" in outputs[-1].stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in written)
    for path in written:
        assert FAKE_API_KEY.encode() not in path.read_bytes(), path
    for out in outputs:
        assert FAKE_API_KEY not in out.output
    assert FAKE_API_KEY not in repr(openai_server.requests)


def test_installed_entry_point_trains_and_reattaches(openai_server, data):  # noqa: F811
    import shutil
    import subprocess
    import sys

    exe = shutil.which("tunewise") or str(Path(sys.executable).with_name("tunewise"))
    cmd = [exe, "train", str(data), "--backend", "openai", "--suffix", "sub", "--yes", "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "succeeded" and result["fine_tuned_model"].endswith(result["job_id"][-8:])
    second = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout)
    assert second["job_id"] == result["job_id"] and second["attached"] and second["reused_upload"]
    assert FAKE_API_KEY not in first.stdout + first.stderr
    assert len(openai_server.calls("POST", CREATE)) == 1


@pytest.mark.live
def test_live_jobs_list_reads_without_spending(monkeypatch):
    if not LIVE_KEY:
        pytest.skip("set OPENAI_API_KEY to run live tests")
    monkeypatch.setenv("OPENAI_API_KEY", LIVE_KEY)
    out = CliRunner().invoke(cli_app, ["jobs", "list", "--limit", "3", "--json"])
    assert out.exit_code == 0, out.output
    assert isinstance(json.loads(out.stdout), list) and LIVE_KEY not in out.output


def test_tool_errors_are_tunewise_errors(openai_server, tmp_path):  # noqa: F811
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user"}]}\n' * 12)
    with pytest.raises(TunewiseError) as err:
        prepare(OpenAITrainInput(data=bad))
    assert err.value.path == str(bad) and err.value.line == 1


def test_a_compatible_servers_float_times_extra_and_missing_fields_are_followed(monkeypatch, data, tmp_path):
    """created_at 1796196786.38, fields OpenAI never sends, optional ones left out: the job is followed to its end."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(wire=("float_times", "extra_fields", "missing_optional")) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
        job = fake.finetune  # the server really answers with floats: check the wire, not only our reading of it
        out = _train(data)
        assert out.exit_code == 0, out.output
        raw = fake.handle("GET", f"/v1/fine_tuning/jobs/{next(iter(job.jobs))}", {}, None)[1]
        assert isinstance(raw["created_at"], float) and "x_gateway" in raw and "method" not in raw
    assert "Traceback" not in out.output and "job ftjob-" in out.stdout and ": succeeded" in out.stdout
    assert "fine-tuned model: ft:gpt-4.1-mini:tunewise-fake:" in out.stdout
    record = json.loads(next((tmp_path / ".tunewise" / "runs").glob("openai-*/run.json")).read_text())
    assert record["status"] == "succeeded" and record["job_id"].startswith("ftjob-")


def test_an_unusable_answer_is_one_line_naming_the_job_and_how_to_follow_it(monkeypatch, data, tmp_path):
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(wire=("no_status",)) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
        out = _train(data)
        listed = _run_cli(["jobs", "show", next(iter(fake.finetune.jobs))])
    record = json.loads(next((tmp_path / ".tunewise" / "runs").glob("openai-*/run.json")).read_text())
    job = record["job_id"]
    assert job.startswith("ftjob-") and record["status"] == "unknown", "the job's id is on disk before the error"
    assert out.exit_code == 1 and "Traceback" not in out.output
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and job in line and f"tunewise jobs show {job}" in line
    assert listed.exit_code == 1 and "has no status" in listed.output and "Traceback" not in listed.output


def _run_cli(args: list[str]):
    return CliRunner().invoke(cli_app, args)
