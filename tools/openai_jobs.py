"""OpenAI fine-tuning jobs, seen from the outside: find, follow, show, list, cancel, and errors in one line.

The client is passed in (built only in `agent/clients.py`); nothing here reads the environment or prints.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import TunewiseError

TERMINAL = ("succeeded", "failed", "cancelled")
RUN_HASH_KEY = "tunewise_run"  # the job metadata key that ties a job to the run that created it
# Reads and uploads may be retried (a repeated GET is harmless; a repeated upload is deduplicated next time);
# job creation never is: see tools/openai_ft.py.
READ_RETRIES = 3
_STEP_RE = re.compile(r"Step (\d+)/(\d+): training loss=([\d.]+)(?:, validation loss=([\d.]+))?")


class JobError(BaseModel):
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
    created_at: int
    finished_at: int | None = None
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    method: str | None = None
    suffix: str | None = None
    run_hash: str | None = Field(default=None, description="The tunewise run that created the job, from its metadata.")
    error: JobError | None = None


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True)
    step: int
    model: str = Field(description="The checkpoint's model name, usable like the final fine-tuned model.")
    train_loss: float | None = None
    valid_loss: float | None = None


class JobDetail(BaseModel):
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


def summarize(job: Any) -> JobSummary:
    err = getattr(job, "error", None)
    hyper = job.hyperparameters.model_dump(exclude_none=True) if getattr(job, "hyperparameters", None) else {}
    return JobSummary(
        id=job.id, status=job.status, model=job.model, fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens, created_at=job.created_at, finished_at=job.finished_at,
        training_file=job.training_file, validation_file=job.validation_file, hyperparameters=hyper,
        method=job.method.type if getattr(job, "method", None) else None,
        suffix=getattr(job, "user_provided_suffix", None), run_hash=(job.metadata or {}).get(RUN_HASH_KEY),
        error=JobError(code=err.code, message=err.message, param=err.param) if err and err.message else None,
    )


def reader(client: Any) -> Any:
    """The same client with retries on, for calls that are safe to repeat."""
    return client.with_options(max_retries=READ_RETRIES)


def find_job(client: Any, run_hash: str) -> Any | None:
    """The newest job created for `run_hash` that has not failed or been cancelled, else None."""
    try:
        page = reader(client).fine_tuning.jobs.list(metadata={RUN_HASH_KEY: run_hash}, limit=20)
    except Exception as exc:  # noqa: BLE001 - translated to one line
        raise api_error(exc, client, "looking up earlier jobs for this run") from None
    for job in page.data:  # newest first
        if (job.metadata or {}).get(RUN_HASH_KEY) == run_hash and job.status not in ("failed", "cancelled"):
            return job
    return None


def progress_of(event: Any, status: str) -> Progress:
    """Read step, train loss and valid loss from a job event (its `data`, or the message as a fallback)."""
    data = event.data if isinstance(getattr(event, "data", None), dict) else {}
    step, total = data.get("step"), data.get("total_steps")
    train, valid = data.get("train_loss"), data.get("valid_loss")
    if step is None and (m := _STEP_RE.search(event.message or "")):
        step, total, train = int(m[1]), int(m[2]), float(m[3])
        valid = float(m[4]) if m[4] else None
    return Progress(status=status, message=event.message or "", level=event.level or "info",
                    created_at=event.created_at, step=int(step) if step is not None else None,
                    total_steps=int(total) if total is not None else None,
                    train_loss=float(train) if train is not None else None,
                    valid_loss=float(valid) if valid is not None else None)


def follow(client: Any, job_id: str, *, sleep: Callable[[float], None] = time.sleep,
           first_poll_s: float = 0.2, max_poll_s: float = 10.0) -> Iterator[Progress]:
    """Yield progress from the job's events, oldest first, until the job ends; the last item has its final status.

    Polling starts fast and slows down, so short jobs finish promptly and long ones cost few requests."""
    api = reader(client)
    seen: set[str] = set()
    poll = first_poll_s
    while True:
        try:
            job = api.fine_tuning.jobs.retrieve(job_id)  # before the events, so none after the end is missed
            events = api.fine_tuning.jobs.list_events(job_id, limit=100).data
        except Exception as exc:  # noqa: BLE001
            raise api_error(exc, client, f"following job {job_id}") from None
        for event in reversed(events):
            if event.id not in seen:
                seen.add(event.id)
                yield progress_of(event, job.status)
        if job.status in TERMINAL:
            yield Progress(status=job.status)  # no message: it only moves the bar to the final status
            return
        sleep(poll)
        poll = min(poll * 1.5, max_poll_s)


def list_jobs(client: Any, *, limit: int = 20) -> list[JobSummary]:
    try:
        return [summarize(j) for j in reader(client).fine_tuning.jobs.list(limit=limit).data]
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, client, "listing fine-tuning jobs") from None


def show(client: Any, job_id: str) -> JobDetail:
    """The job and, once it has succeeded, its checkpoints (newest first)."""
    api = reader(client)
    try:
        job = api.fine_tuning.jobs.retrieve(job_id)
        rows = api.fine_tuning.jobs.checkpoints.list(job_id, limit=10).data if job.status == "succeeded" else []
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, client, f"reading job {job_id}") from None
    checkpoints = [Checkpoint(step=c.step_number, model=c.fine_tuned_model_checkpoint,
                              train_loss=c.metrics.train_loss, valid_loss=c.metrics.valid_loss) for c in rows]
    return JobDetail(job=summarize(job), checkpoints=checkpoints)


def events(client: Any, job_id: str, *, limit: int = 100) -> list[Progress]:
    """The job's latest `limit` events, oldest first."""
    api = reader(client)
    try:
        status = api.fine_tuning.jobs.retrieve(job_id).status
        rows = api.fine_tuning.jobs.list_events(job_id, limit=limit).data
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, client, f"reading the events of job {job_id}") from None
    return [progress_of(e, status) for e in reversed(rows)]


def cancel(client: Any, job_id: str) -> JobSummary:
    try:
        return summarize(reader(client).fine_tuning.jobs.cancel(job_id))
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc, client, f"cancelling job {job_id}") from None


def scrub(text: str, client: Any) -> str:
    """Remove the API key from text that may reach a terminal or a file."""
    key = getattr(client, "api_key", None)
    return text.replace(key, "***") if isinstance(key, str) and len(key) >= 8 else text


def error_text(exc: BaseException) -> str:
    """OpenAI's own message from an error body, without the SDK's "Error code: 400 - " prefix."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return getattr(exc, "message", None) or str(exc)


def api_error(exc: BaseException, client: Any, doing: str) -> BaseException:
    """One clear line for an OpenAI SDK error, with what to do, and never the key; anything else (a bug) as it is."""
    import openai

    if not isinstance(exc, openai.OpenAIError):
        return exc
    detail = scrub(error_text(exc), client)
    if isinstance(exc, openai.AuthenticationError):
        return TunewiseError(f"OpenAI rejected the API key while {doing}",
                             hint="check OPENAI_API_KEY (and OPENAI_BASE_URL for a proxy or Azure-style endpoint)")
    if isinstance(exc, openai.APITimeoutError):
        return TunewiseError(f"OpenAI did not answer in time while {doing}", hint="try again; re-running is safe")
    if isinstance(exc, openai.APIConnectionError):
        url = scrub(str(getattr(client, "base_url", "")), client)
        return TunewiseError(f"cannot reach the OpenAI API at {url} while {doing}",
                             hint="check the network and OPENAI_BASE_URL; re-running is safe")
    if isinstance(exc, openai.NotFoundError):
        return TunewiseError(f"not found while {doing}: {detail}", hint="check the id (`tunewise jobs list`)")
    if isinstance(exc, openai.RateLimitError):
        return TunewiseError(f"OpenAI rate limit while {doing}: {detail}", hint="wait a minute and re-run; it is safe")
    if isinstance(exc, openai.APIStatusError):
        return TunewiseError(f"OpenAI error {exc.status_code} while {doing}: {detail}",
                             hint="re-running is safe; if it persists, check status.openai.com")
    return TunewiseError(f"OpenAI client error while {doing}: {detail}")
