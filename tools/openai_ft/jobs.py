"""OpenAI fine-tuning jobs, seen from the outside: find, follow, show, list, cancel, and errors in one line.

The client is passed in (built only in `tools/clients.py`); nothing here reads the environment or prints.
Answers are read leniently where the difference is harmless, as OpenAI-compatible servers differ: a float or string
timestamp, extra fields, a missing optional field. A job whose answer has no id or status cannot be followed:
that is one `UnusableAnswer` line naming the job, never a traceback; API errors are one line from
tools/openai_errors.py.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Hashable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import TunewiseError
from tools.openai_errors import translated

TERMINAL = ("succeeded", "failed", "cancelled")
RUN_HASH_KEY = "tunewise_run"  # the job metadata key that ties a job to the run that created it
# Reads and uploads may be retried (a repeated GET is harmless; a repeated upload is deduplicated next time);
# job creation never is: see tools/openai_ft/finetune.py.
READ_RETRIES = 3
_NO_SUCH_JOB = "check the job id (`tunewise jobs list` lists them)"
_STEP_RE = re.compile(r"Step (\d+)/(\d+): training loss=([\d.]+)(?:, validation loss=([\d.]+))?")


class UnusableAnswer(TunewiseError):
    """The server's answer about a job lacks what following it needs (its id or status)."""


def field(obj: Any, name: str, default: Any = None) -> Any:
    """Return an attribute of an SDK object or a key of a dict, `default` when the server left it out (or sent None)."""
    value = obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)
    return default if value is None else value


def whole(value: Any) -> int | None:
    """Return a timestamp or count as an int (None if it is not one): compatible servers send 1796196786.38 or "1796196786" too."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def number(value: Any) -> float | None:
    """Return a loss or other metric as a float, None when it is missing or not a number."""
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def status_of(job: Any, job_id: str | None = None) -> str:
    """Return the job's status; raise UnusableAnswer naming the job and how to follow it when there is none."""
    status = field(job, "status")
    if isinstance(status, str) and status:
        return status
    jid = field(job, "id") or job_id or "?"
    raise UnusableAnswer(
        f"the server's answer about fine-tuning job {jid} has no status, so tunewise cannot tell whether it is running",
        hint=f"the job exists; follow it with `tunewise jobs show {jid}` (or on the provider's dashboard)",
    )


class JobError(BaseModel):
    """Why a job failed, as OpenAI reported it."""

    model_config = ConfigDict(frozen=True)
    code: str | None = Field(default=None, description="OpenAI's error code, e.g. invalid_training_file.")
    message: str = Field(description="OpenAI's explanation of the failure.")
    param: str | None = None


class JobSummary(BaseModel):
    """A fine-tuning job as tunewise reports it."""

    model_config = ConfigDict(frozen=True)
    id: str
    status: str
    model: str
    fine_tuned_model: str | None = None
    trained_tokens: int | None = Field(default=None, description="Tokens OpenAI billed (file tokens x epochs).")
    created_at: int | None = None
    finished_at: int | None = None
    training_file: str = ""
    validation_file: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    method: str | None = None
    suffix: str | None = None
    run_hash: str | None = Field(default=None, description="The tunewise run that created the job, from its metadata.")
    error: JobError | None = None


class Checkpoint(BaseModel):
    """A checkpoint OpenAI kept of a succeeded job: its step, model name and losses at that step."""

    model_config = ConfigDict(frozen=True)
    step: int
    model: str = Field(description="The checkpoint's model name, usable like the final fine-tuned model.")
    train_loss: float | None = None
    valid_loss: float | None = None


class JobDetail(BaseModel):
    """A job with its checkpoints (newest first; none until it has succeeded)."""

    model_config = ConfigDict(frozen=True)
    job: JobSummary
    checkpoints: list[Checkpoint] = Field(default_factory=list)


class Progress(BaseModel):
    """One step of a job's progress, read from its events."""

    model_config = ConfigDict(frozen=True)
    status: str
    message: str = ""
    level: str = "info"
    created_at: int | None = None
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def summarize(job: Any, job_id: str | None = None) -> JobSummary:
    """Return the job as tunewise reports it; raise UnusableAnswer only when its id or status is missing."""
    jid = _text(field(job, "id")) or job_id
    if jid is None:
        raise UnusableAnswer(
            "the server's answer about a fine-tuning job carries no job id",
            hint="list the jobs with `tunewise jobs list`; re-running the command attaches to "
            "the job made for this run instead of creating another",
        )
    status = status_of(job, jid)
    err = field(job, "error")
    hyper = field(job, "hyperparameters")
    if hasattr(hyper, "model_dump"):
        hyper = hyper.model_dump(exclude_none=True)
    metadata = field(job, "metadata", {})
    message = _text(field(err, "message")) if err else None
    return JobSummary(
        id=jid,
        status=status,
        model=_text(field(job, "model")) or "",
        fine_tuned_model=_text(field(job, "fine_tuned_model")),
        trained_tokens=whole(field(job, "trained_tokens")),
        created_at=whole(field(job, "created_at")),
        finished_at=whole(field(job, "finished_at")),
        training_file=_text(field(job, "training_file")) or "",
        validation_file=_text(field(job, "validation_file")),
        hyperparameters=hyper if isinstance(hyper, dict) else {},
        method=_text(field(field(job, "method"), "type")) if field(job, "method") else None,
        suffix=_text(field(job, "user_provided_suffix")),
        run_hash=metadata.get(RUN_HASH_KEY) if isinstance(metadata, dict) else None,
        error=JobError(code=_text(field(err, "code")), message=message, param=_text(field(err, "param")))
        if message
        else None,
    )


def reader(client: Any) -> Any:
    """Return the same client with READ_RETRIES retries on, for calls that are safe to repeat."""
    return client.with_options(max_retries=READ_RETRIES)


def find_job(client: Any, run_hash: str) -> Any | None:
    """Return the newest job created for `run_hash` that has not failed or been cancelled, else None."""
    with translated("looking up earlier jobs for this run", client=client):
        page = reader(client).fine_tuning.jobs.list(metadata={RUN_HASH_KEY: run_hash}, limit=20)
    for job in field(page, "data", []):  # newest first
        metadata = field(job, "metadata", {})
        if (
            isinstance(metadata, dict)
            and metadata.get(RUN_HASH_KEY) == run_hash
            and field(job, "status") not in ("failed", "cancelled")
        ):
            return job
    return None


def progress_of(event: Any, status: str) -> Progress:
    """Read step, train loss and valid loss from a job event (its `data`, or the message as a fallback)."""
    data = field(event, "data", {})
    data = data if isinstance(data, dict) else {}
    message = field(event, "message", "")
    message = message if isinstance(message, str) else str(message)
    step, total = whole(data.get("step")), whole(data.get("total_steps"))
    train, valid = number(data.get("train_loss")), number(data.get("valid_loss"))
    if step is None and (m := _STEP_RE.search(message)):
        step, total, train = int(m[1]), int(m[2]), float(m[3])
        valid = float(m[4]) if m[4] else None
    level = field(event, "level", "info")
    return Progress(
        status=status,
        message=message,
        level=level if isinstance(level, str) else "info",
        created_at=whole(field(event, "created_at")),
        step=step,
        total_steps=total,
        train_loss=train,
        valid_loss=valid,
    )


def follow(
    client: Any,
    job_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    first_poll_s: float = 0.2,
    max_poll_s: float = 10.0,
) -> Iterator[Progress]:
    """Yield progress from the job's events, oldest first, until the job ends; the last item has its final status.

    Polling starts fast and slows down, so short jobs finish promptly and long ones cost few requests.
    """
    api = reader(client)
    seen: set[Hashable] = set()  # event ids, or (created_at, message) for an event a server sent without one
    poll = first_poll_s
    while True:
        with translated(f"following job {job_id}", client=client, not_found=_NO_SUCH_JOB):
            job = api.fine_tuning.jobs.retrieve(job_id)  # before the events, so none after the end is missed
            events = field(api.fine_tuning.jobs.list_events(job_id, limit=100), "data", [])
        status = status_of(job, job_id)
        for event in reversed(events):
            key = field(event, "id") or (field(event, "created_at"), field(event, "message"))
            if key not in seen:
                seen.add(key)
                yield progress_of(event, status)
        if status in TERMINAL:
            yield Progress(status=status)  # no message: it only moves the bar to the final status
            return
        sleep(poll)
        poll = min(poll * 1.5, max_poll_s)


def list_jobs(client: Any, *, limit: int = 20) -> list[JobSummary]:
    """Return the `limit` most recent fine-tuning jobs, newest first."""
    with translated("listing fine-tuning jobs", client=client):
        return [summarize(j) for j in field(reader(client).fine_tuning.jobs.list(limit=limit), "data", [])]


def show(client: Any, job_id: str) -> JobDetail:
    """Return the job and, once it has succeeded, its checkpoints (newest first)."""
    api = reader(client)
    with translated(f"reading job {job_id}", client=client, not_found=_NO_SUCH_JOB):
        job = api.fine_tuning.jobs.retrieve(job_id)
        succeeded = status_of(job, job_id) == "succeeded"
        rows = field(api.fine_tuning.jobs.checkpoints.list(job_id, limit=10), "data", []) if succeeded else []
    checkpoints = [
        Checkpoint(
            step=whole(field(c, "step_number")) or 0,
            model=field(c, "fine_tuned_model_checkpoint", ""),
            train_loss=number(field(field(c, "metrics", {}), "train_loss")),
            valid_loss=number(field(field(c, "metrics", {}), "valid_loss")),
        )
        for c in rows
    ]
    return JobDetail(job=summarize(job, job_id), checkpoints=checkpoints)


def events(client: Any, job_id: str, *, limit: int = 100) -> list[Progress]:
    """Return the job's latest `limit` events, oldest first."""
    api = reader(client)
    with translated(f"reading the events of job {job_id}", client=client, not_found=_NO_SUCH_JOB):
        status = status_of(api.fine_tuning.jobs.retrieve(job_id), job_id)
        rows = field(api.fine_tuning.jobs.list_events(job_id, limit=limit), "data", [])
    return [progress_of(e, status) for e in reversed(rows)]


def cancel(client: Any, job_id: str) -> JobSummary:
    """Ask OpenAI to cancel the job; return the job as the cancel call answered it."""
    with translated(f"cancelling job {job_id}", client=client, not_found=_NO_SUCH_JOB):
        return summarize(reader(client).fine_tuning.jobs.cancel(job_id))
