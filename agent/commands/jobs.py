"""`tunewise jobs list | show JOB | events JOB | cancel JOB`: OpenAI fine-tuning jobs after `train --no-wait`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import openai

    from tools.openai_ft.jobs import JobSummary

jobs_app = typer.Typer(help="OpenAI fine-tuning jobs: list, show, events, cancel.", no_args_is_help=True)

JobArg = Annotated[str, typer.Argument(help="Job id (ftjob-...) or a run folder holding run.json.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _client() -> openai.OpenAI:
    from tools.clients import get_openai_client

    return get_openai_client(max_retries=0, timeout=60.0)


def _job_id(job: str) -> str:
    """Accept a run folder as well as a job id: its run.json names the job."""
    from tools.errors import TunewiseError
    from tools.openai_ft.finetune import read_record

    folder = Path(job)
    if not (folder / "run.json").is_file():
        return job
    job_id = read_record(folder).get("job_id")
    if not job_id:
        raise TunewiseError(
            "this run folder has no OpenAI job yet",
            path=str(folder / "run.json"),
            hint="re-run the train command to create it",
        )
    return job_id


def _when(ts: int | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _sync_runs(summary: JobSummary) -> None:
    """Keep the run folder that started this job up to date, so run.json tells the truth after --no-wait."""
    from tools.costs.catalog import openai_catalog
    from tools.openai_ft.finetune import read_record, record_job
    from tools.settings import get_settings

    for path in get_settings().runs_dir.glob("*/run.json"):
        record = read_record(path.parent)
        if record.get("job_id") == summary.id and record.get("status") != summary.status:
            price = openai_catalog().model(record.get("model", summary.model)).training / 1e6
            record_job(path.parent, record, summary, price)


@jobs_app.command("list")
def list_jobs(
    limit: Annotated[int, typer.Option(help="How many of the newest jobs.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List recent fine-tuning jobs, newest first."""
    from tools.openai_ft import jobs as openai_jobs

    rows = openai_jobs.list_jobs(_client(), limit=limit)
    if json_out:
        from agent.console import print_json

        print_json("[" + ",".join(r.model_dump_json() for r in rows) + "]")
        return
    from rich.table import Table

    from agent.console import console

    table = Table(title=f"fine-tuning jobs ({len(rows)})", title_justify="left")
    for col in ("id", "status", "model", "fine-tuned model", "created", "run"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.id, r.status, r.model, r.fine_tuned_model or "-", _when(r.created_at), (r.run_hash or "-")[:12])
    console.print(table)


@jobs_app.command("show")
def show(job: JobArg, json_out: JsonOpt = False) -> None:
    """Show a job: status, billed tokens, the fine-tuned model and its checkpoints, or why it failed."""
    from tools.openai_ft import jobs as openai_jobs

    detail = openai_jobs.show(_client(), _job_id(job))
    _sync_runs(detail.job)
    if json_out:
        from agent.console import print_json

        print_json(detail.model_dump_json())
        return
    from agent.console import console

    j = detail.job
    console.print(f"job {j.id}: {j.status}", markup=False, soft_wrap=True)
    console.print(
        f"base model: {j.model}; method: {j.method or 'supervised'}; created {_when(j.created_at)}; "
        f"finished {_when(j.finished_at)}",
        markup=False,
        soft_wrap=True,
    )
    if j.hyperparameters:
        console.print(
            "hyperparameters: " + ", ".join(f"{k}={v}" for k, v in j.hyperparameters.items()),
            markup=False,
            soft_wrap=True,
        )
    if j.fine_tuned_model:
        console.print(f"fine-tuned model: {j.fine_tuned_model}", markup=False, soft_wrap=True)
    if j.trained_tokens is not None:
        console.print(f"trained tokens (billed): {j.trained_tokens:,}", markup=False, soft_wrap=True)
    if j.error:
        console.print(f"failed: {j.error.code}: {j.error.message}", markup=False, soft_wrap=True)
    if j.status == "cancelled":
        console.print("the job was cancelled", markup=False, soft_wrap=True)
    if detail.checkpoints:  # plain lines, not a table: the model names must stay whole to be copied
        console.print("checkpoints (newest first):", markup=False, soft_wrap=True)
        for c in detail.checkpoints:
            console.print(
                f"  step {c.step:<6} {c.model}  train loss {_loss(c.train_loss)}, valid loss {_loss(c.valid_loss)}",
                markup=False,
                soft_wrap=True,
            )


def _loss(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


@jobs_app.command("events")
def events(
    job: JobArg,
    limit: Annotated[int, typer.Option(help="How many of the latest events.")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """Show a job's events, oldest first: state changes and each step's train and valid loss."""
    from tools.openai_ft import jobs as openai_jobs

    rows = openai_jobs.events(_client(), _job_id(job), limit=limit)
    if json_out:
        from agent.console import print_json

        print_json("[" + ",".join(r.model_dump_json() for r in rows) + "]")
        return
    from agent.console import console

    for e in rows:
        console.print(f"{_when(e.created_at)}  {e.level:<5} {e.message}", markup=False, soft_wrap=True)


@jobs_app.command("cancel")
def cancel(job: JobArg, json_out: JsonOpt = False) -> None:
    """Cancel a job that has not finished yet."""
    from tools.openai_ft import jobs as openai_jobs

    summary = openai_jobs.cancel(_client(), _job_id(job))
    _sync_runs(summary)
    if json_out:
        from agent.console import print_json

        print_json(summary.model_dump_json())
        return
    from agent.console import console

    console.print(f"job {summary.id}: {summary.status}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the `tunewise jobs` group (list, show, events, cancel) to `app`."""
    app.add_typer(jobs_app, name="jobs")
