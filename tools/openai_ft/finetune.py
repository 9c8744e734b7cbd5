"""Fine-tune on OpenAI without ever paying twice for the same job.

The SDK retries POSTs without an idempotency key, so a timed-out `jobs.create` may still have created a job.
Hence: uploads are content-addressed (sha256 in the filename, reused when name and size match); the job carries
the run hash in its metadata; creation runs with retries off; after any error or timeout the job is looked up by
that metadata before another create; and the job id is written to the run folder atomically the moment it is known.
A re-run of the same command therefore attaches to the job it already started.

Run folder (`run.json`): run_hash, inputs, file ids, job_id, status, fine_tuned_model, trained_tokens (what
OpenAI billed), estimated and billed cost, error. It never holds the API key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.atomic import atomic_open, write_json
from tools.defaults import DEFAULT_FINE_TUNE_MODEL
from tools.digest import file_sha256
from tools.errors import TunewiseError, UsageError
from tools.openai_errors import code_of, openai_error, scrub_exception, server_message, status_of, translated
from tools.openai_ft import jobs
from tools.openai_ft.jobs import JobError
from tools.progress import Progress, Update, silent

if TYPE_CHECKING:
    from tools.dataset.validate import ValidateResult

CREATE_ATTEMPTS = 4  # one try plus three after a lookup found nothing; OpenAI's 429/5xx storms rarely outlast that
BACKOFF_S = 0.5  # doubled per attempt; a Retry-After header wins
UPLOAD_TIMEOUT_S = 600.0  # a 512 MB file on a slow uplink
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # the Files API's per-file limit
# 8B in 4-bit trains on one 24 GB card and is the size most often swapped in for a hosted small model.
LOCAL_BASE_MODEL = "Llama-3.1-8B"
METHODS = {"sft": ("supervised", "chat"), "dpo": ("dpo", "preference")}


class OpenAITrainInput(BaseModel):
    """One `tunewise train --backend openai`: the data, the base model, the hyperparameters and the run folder."""

    model_config = ConfigDict(extra="forbid")

    data: Path = Field(description="Training file (chat or preference JSONL; Alpaca and ShareGPT are converted).")
    model: str = Field(default=DEFAULT_FINE_TUNE_MODEL, description="OpenAI base model to fine-tune.")
    eval_file: Path | None = Field(default=None, description="Validation file; OpenAI reports valid loss on it.")
    epochs: int | Literal["auto"] = Field(default="auto", description="Epochs, or auto for OpenAI's heuristic.")
    batch_size: int | Literal["auto"] = Field(default="auto", description="Batch size, or auto.")
    lr_multiplier: float | Literal["auto"] = Field(default="auto", description="Learning-rate multiplier, or auto.")
    suffix: str | None = Field(default=None, max_length=64, description="Added to the fine-tuned model's name.")
    seed: int | None = Field(default=None, description="Seed for a reproducible job.")
    method: Literal["sft", "dpo"] = Field(default="sft", description="sft on chat data, dpo on preference data.")
    output: Path | None = Field(default=None, description="Run folder; default RUNS_DIR/openai-<run hash>.")
    runs_dir: Path = Field(default=Path(".tunewise/runs"), description="Where default run folders go.")
    wait: bool = Field(default=True, description="Follow the job until it ends; otherwise return once it exists.")
    allow_secrets: bool = Field(default=False, description="Upload even though the data looks like it holds secrets.")


class Prepared(BaseModel):
    """What validation and pricing found, before anything leaves the machine."""

    model_config = ConfigDict(frozen=True)
    run_hash: str
    run_dir: Path
    format: str
    examples: int
    tokens: int = Field(description="Tokens in the training file, per epoch.")
    epochs: int
    estimated_billed_tokens: int
    estimated_cost_usd: float
    data_sha256: str
    eval_sha256: str | None
    warnings: list[str]


class OpenAITrainResult(BaseModel):
    """What a run did: its job and files, whether it reused an upload or attached to a job, and estimated vs billed cost."""

    model_config = ConfigDict(frozen=True)
    run_dir: str
    run_hash: str
    model: str
    job_id: str | None
    status: str
    fine_tuned_model: str | None = None
    training_file_id: str
    validation_file_id: str | None = None
    reused_upload: bool = Field(description="The training file was already on OpenAI and was not uploaded again.")
    attached: bool = Field(description="An existing job for this run was found and followed instead of creating one.")
    examples: int
    estimated_billed_tokens: int
    estimated_cost_usd: float
    trained_tokens: int | None = Field(default=None, description="Tokens OpenAI billed.")
    billed_cost_usd: float | None = None
    error: JobError | None = None
    notes: list[str] = Field(default_factory=list)


def _hyper(inp: OpenAITrainInput) -> dict[str, Any]:
    return {"n_epochs": inp.epochs, "batch_size": inp.batch_size, "learning_rate_multiplier": inp.lr_multiplier}


def run_hash(inp: OpenAITrainInput, data_sha256: str, eval_sha256: str | None) -> str:
    """Hash everything that makes a job what it is; the same command on the same data gives the same hash."""
    key = {
        "data": data_sha256,
        "eval": eval_sha256,
        "model": inp.model,
        "method": inp.method,
        "hyper": _hyper(inp),
        "suffix": inp.suffix,
        "seed": inp.seed,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _validate(path: Path, model: str, method: str, allow_secrets: bool, role: str) -> ValidateResult:
    from tools.dataset.validate import ValidateInput
    from tools.dataset.validate import run as validate

    result = validate(ValidateInput(path=path, model=model, hosted=True))
    blocking = [e for e in result.errors if not (allow_secrets and e.code == "secret")]
    if blocking:
        first = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        hint = (
            "remove it, or pass --allow-secrets if it is not a secret"
            if first.code == "secret"
            else f"run `tunewise validate {path}` for the full report"
        )
        raise TunewiseError(
            f"{role} has errors: {first.code}: {first.message}{more}", path=str(path), line=first.line, hint=hint
        )
    want = METHODS[method][1]
    if (result.format == "preference") != (want == "preference"):
        raise UsageError(
            f"{role} is {result.format} data, but --method {method} needs {want} data",
            path=str(path),
            hint="use --method dpo for preference pairs, --method sft for anything else",
        )
    return result


def prepare(inp: OpenAITrainInput) -> Prepared:
    """Validate the data, price the job and fix the run's hash and folder; nothing is sent anywhere."""
    from tools.costs.catalog import openai_catalog
    from tools.costs.epochs import openai_default_epochs
    from tools.costs.openai_access import refuse_retired

    catalog = openai_catalog()
    info = catalog.model(inp.model)
    refuse_retired(catalog, inp.model, dt.date.today())
    if not info.fine_tunable:
        raise UsageError(f"{inp.model} cannot be fine-tuned on OpenAI", hint="pick a fine-tunable model")
    train = _validate(inp.data, inp.model, inp.method, inp.allow_secrets, "the training file")
    if inp.eval_file is not None:
        _validate(inp.eval_file, inp.model, inp.method, inp.allow_secrets, "the eval file")
    epochs = inp.epochs if isinstance(inp.epochs, int) else openai_default_epochs(train.valid_examples)
    billed = train.tokens.total * epochs
    data_sha = file_sha256(inp.data)
    eval_sha = file_sha256(inp.eval_file) if inp.eval_file is not None else None
    digest = run_hash(inp, data_sha, eval_sha)
    warnings = [f"{w.code}: {w.message}" for w in train.warnings[:5]]
    from tools.costs.openai_access import access_line, life_line

    today = dt.date.today()
    for line in (access_line(catalog, today), life_line(info, today)):
        if line:
            warnings.append(line)
    return Prepared(
        run_hash=digest,
        run_dir=inp.output or inp.runs_dir / f"openai-{digest[:12]}",
        format=train.format,
        examples=train.valid_examples,
        tokens=train.tokens.total,
        epochs=epochs,
        estimated_billed_tokens=billed,
        estimated_cost_usd=round(billed * info.training / 1e6, 4),
        data_sha256=data_sha,
        eval_sha256=eval_sha,
        warnings=warnings,
    )


def _upload_source(path: Path, fmt: str, run_dir: Path) -> Path:
    """Return the file to upload: OpenAI takes chat JSONL only, so Alpaca and ShareGPT are converted into the run folder."""
    if fmt not in ("alpaca", "sharegpt"):
        return path
    from tools.dataset.formats import load_examples

    out = run_dir / f"{path.stem}.openai.jsonl"
    with atomic_open(out) as fh:
        for ex in load_examples(path, fmt):
            fh.write(json.dumps({"messages": ex.messages}, ensure_ascii=False) + "\n")
    return out


def upload(client: Any, path: Path) -> tuple[str, bool]:
    """Upload for fine-tuning unless a file with this content's sha256 in its name and this size is there already.

    Returns (file id, reused).
    """
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise TunewiseError(
            f"the file is {size / 2**20:.0f} MB; OpenAI accepts at most 512 MB per file",
            path=str(path),
            hint="split it or sample it down with `tunewise split`",
        )
    digest = file_sha256(path)
    tag = f"sha256-{digest}"
    api = client.with_options(max_retries=jobs.READ_RETRIES, timeout=UPLOAD_TIMEOUT_S)
    with translated(f"uploading {path.name}", client=client):
        for f in api.files.list(purpose="fine-tune"):
            if tag in f.filename and f.bytes == size and f.status != "error":
                return f.id, True
        with path.open("rb") as fh:
            created = api.files.create(file=(f"{path.stem[:40]}.{tag}.jsonl", fh), purpose="fine-tune")
    return created.id, False


def _is_refusal(exc: BaseException) -> bool:
    """Tell whether OpenAI will not take this job at all: permission, deprecation or model-not-available."""
    import openai

    if isinstance(exc, openai.PermissionDeniedError):
        return True
    if isinstance(exc, (openai.BadRequestError, openai.NotFoundError)):
        code, text = (code_of(exc) or "").lower(), server_message(exc).lower()
        return code in {
            "model_not_available",
            "model_not_found",
            "model_deprecated",
            "permission_denied",
            "unsupported_model",
        } or any(w in text for w in ("not available", "deprecat", "no longer"))
    return False


def refusal_error(exc: Any, client: Any, prep: Prepared, inp: OpenAITrainInput) -> TunewiseError:
    """Build the one message for a refused job: what OpenAI said, the announced close date, and the local route."""
    from tools.costs.catalog import openai_catalog

    access = openai_catalog().fine_tuning
    said = f"{code_of(exc) or status_of(exc)}: {server_message(exc, client)}"  # scrubbed, as is the cause
    scrub_exception(exc, client)
    return TunewiseError(
        f"OpenAI refused to create the fine-tuning job for {inp.model} ({said}). OpenAI is winding down its "
        f"fine-tuning platform: since {access.new_organisations_closed} it is closed to new organisations, since "
        f"{access.recent_use_required} to those without fine-tuned inference in the last {access.recent_use_days} "
        f"days, and from {access.all_closed} to everyone",
        hint=local_alternative(inp.data, prep),
    )


def local_alternative(data: Path, prep: Prepared) -> str:
    """Return the local QLoRA command for the same data, with the estimator's price, time and memory when it can."""
    import shlex

    command = f"train locally instead: tunewise train {shlex.quote(str(data))} --backend unsloth --base-model {LOCAL_BASE_MODEL}"
    try:
        from tools.costs.estimate import EstimateInput
        from tools.costs.estimate import run as estimate
    except ImportError:  # the estimator ships with the core; a trimmed install may lack it
        return command
    result = estimate(
        EstimateInput(
            tokens=max(1, prep.tokens),
            examples=max(1, prep.examples),
            provider="local",
            base_model=LOCAL_BASE_MODEL,
            quant="4bit",
            epochs=prep.epochs,
        )
    )
    fitting = [
        (o.training_cost_usd, o.training_hours, o.vram_gb, o.gpu)
        for o in result.options
        if o.provider == "local"
        and o.path == "fine-tune"
        and o.fits
        and o.training_cost_usd is not None
        and o.training_hours is not None
        and o.vram_gb is not None
    ]
    if not fitting:
        return command
    cost, hours, vram_gb, gpu = min(fitting, key=lambda f: f[0])  # the first of the cheapest, as options are ordered
    took = f"{hours:.1f} h" if hours >= 1 else f"{max(1, round(hours * 60))} min"
    return f"{command} (QLoRA estimate: ${cost:.2f}, {took} on {gpu}, {vram_gb:.1f} GB VRAM)"


def _retry_delay(exc: BaseException, attempt: int) -> float:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    backoff = BACKOFF_S * 2 ** (attempt - 1)
    retry_after = headers.get("retry-after")
    if retry_after is None:
        return backoff
    try:
        return min(float(retry_after), 60.0)
    except (TypeError, ValueError):
        return backoff


def create_job(
    client: Any, body: dict[str, Any], prep: Prepared, inp: OpenAITrainInput, *, sleep: Callable[[float], None]
) -> tuple[Any, bool]:
    """Create the job at most once: retries off, and a metadata lookup after any failure before trying again.

    Returns (job, found) where found means the lookup turned up a job an earlier, unanswered create had made.
    """
    import openai

    once = client.with_options(max_retries=0)
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return once.fine_tuning.jobs.create(**body), False
        except openai.APIStatusError as exc:
            if _is_refusal(exc):
                raise refusal_error(exc, client, prep, inp) from exc
            if not isinstance(exc, (openai.RateLimitError, openai.InternalServerError, openai.ConflictError)):
                raise openai_error(exc, "creating the fine-tuning job", client=client) from exc
            failure: BaseException = exc
        except openai.APIConnectionError as exc:  # includes timeouts: the job may exist now
            failure = exc
        sleep(_retry_delay(failure, attempt))
        if (job := jobs.find_job(client, prep.run_hash)) is not None:
            return job, True
    raise openai_error(
        failure, f"creating the fine-tuning job ({CREATE_ATTEMPTS} attempts)", client=client
    ) from failure


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read_record(run_dir: Path) -> dict[str, Any]:
    """Return the run folder's run.json ({} when there is none yet); raise TunewiseError when it is not JSON."""
    try:
        return json.loads((run_dir / "run.json").read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TunewiseError(
            f"run.json is not valid JSON ({exc})",
            path=str(run_dir / "run.json"),
            hint="delete the run folder to start afresh, or restore the file",
        ) from None


def record_job(run_dir: Path, record: dict[str, Any], job: Any, price_per_token: float) -> dict[str, Any]:
    """Fold the job's latest state (an SDK job or a JobSummary) into run.json, atomically.

    An answer too broken to summarise still leaves the job's id on disk before the error goes up.
    """
    try:
        summary = job if isinstance(job, jobs.JobSummary) else jobs.summarize(job, record.get("job_id"))
    except jobs.UnusableAnswer:
        if jobs.field(job, "id") or record.get("job_id"):
            record.update(job_id=jobs.field(job, "id") or record.get("job_id"), status="unknown", updated_at=_now())
            write_json(run_dir / "run.json", record)
        raise
    record.update(
        job_id=summary.id,
        status=summary.status,
        fine_tuned_model=summary.fine_tuned_model,
        trained_tokens=summary.trained_tokens,
        billed_tokens=summary.trained_tokens,
        billed_cost_usd=round(summary.trained_tokens * price_per_token, 4)
        if summary.trained_tokens is not None
        else None,
        error=summary.error.model_dump() if summary.error else None,
        updated_at=_now(),
    )
    write_json(run_dir / "run.json", record)
    return record


def run(
    inp: OpenAITrainInput,
    *,
    client: Any,
    prepared: Prepared | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    create: bool = True,
) -> OpenAITrainResult:
    """Fine-tune an OpenAI model on a training file, reusing uploads and never starting the same job twice.

    `create=False` only follows the job this run already has: a caller that has no approval to spend uses it,
    and gets an error instead of a new job when that one has ended. While it waits, `progress` hears each job
    event (`job_update`): the job's status as the stage, its message, and its steps with the losses.
    """
    from tools.costs.catalog import openai_catalog

    prep = prepared or prepare(inp)
    price = openai_catalog().model(inp.model).training / 1e6
    run_dir = prep.run_dir
    record = read_record(run_dir)
    if record.get("run_hash") not in (None, prep.run_hash):
        raise TunewiseError(
            "this run folder belongs to a different run (other data or settings)",
            path=str(run_dir),
            hint="pick another --output, or leave it out to get a folder per run",
        )
    notes: list[str] = list(prep.warnings)
    record.update(
        backend="openai",
        run_hash=prep.run_hash,
        model=inp.model,
        method=inp.method,
        data=str(inp.data),
        data_sha256=prep.data_sha256,
        eval_file=str(inp.eval_file) if inp.eval_file else None,
        eval_sha256=prep.eval_sha256,
        hyperparameters=_hyper(inp),
        suffix=inp.suffix,
        seed=inp.seed,
        examples=prep.examples,
        epochs=prep.epochs,
        estimated_billed_tokens=prep.estimated_billed_tokens,
        estimated_cost_usd=prep.estimated_cost_usd,
    )
    record.setdefault("created_at", _now())
    write_json(run_dir / "run.json", record)

    job, attached = _existing_job(client, record, prep, notes)
    if job is not None:  # nothing to upload or create: follow the job this run already has
        train_id, valid_id, reused = jobs.field(job, "training_file", ""), jobs.field(job, "validation_file"), True
    elif not create:
        raise TunewiseError(
            f"the job this run started has ended ({notes[-1]}); a new one costs about "
            f"${prep.estimated_cost_usd:.2f} and needs approval",
            hint="re-run with --yes (or --plan FILE) to start it",
        )
    else:
        train_id, reused = upload(client, _upload_source(inp.data, prep.format, run_dir))
        valid_id = upload(client, _upload_source(inp.eval_file, prep.format, run_dir))[0] if inp.eval_file else None
        record.update(training_file_id=train_id, validation_file_id=valid_id)
        write_json(run_dir / "run.json", record)
        if reused:
            notes.append(f"reused the uploaded file {train_id}")
        method_type = METHODS[inp.method][0]
        body: dict[str, Any] = {
            "model": inp.model,
            "training_file": train_id,
            "method": {"type": method_type, method_type: {"hyperparameters": _hyper(inp)}},
            "metadata": {jobs.RUN_HASH_KEY: prep.run_hash},
        }
        optional = {"validation_file": valid_id, "suffix": inp.suffix, "seed": inp.seed}
        body.update({k: v for k, v in optional.items() if v is not None})
        job, attached = create_job(client, body, prep, inp, sleep=sleep)
        if attached:
            notes.append(f"an earlier create that got no answer had made job {jobs.field(job, 'id')}; using it")
    record.update(training_file_id=train_id, validation_file_id=valid_id)
    record = record_job(run_dir, record, job, price)  # the job id is on disk before any waiting
    job_id = record["job_id"]

    if inp.wait and record["status"] not in jobs.TERMINAL:
        for step in jobs.follow(client, job_id, sleep=sleep):
            (progress or silent)(job_update(step))
        with translated(f"reading job {job_id}", client=client):
            job = jobs.reader(client).fine_tuning.jobs.retrieve(job_id)
        record = record_job(run_dir, record, job, price)
    return OpenAITrainResult(
        run_dir=str(run_dir),
        run_hash=prep.run_hash,
        model=inp.model,
        job_id=job_id,
        status=record["status"],
        fine_tuned_model=record["fine_tuned_model"],
        training_file_id=train_id,
        validation_file_id=valid_id,
        reused_upload=reused,
        attached=attached,
        examples=prep.examples,
        estimated_billed_tokens=prep.estimated_billed_tokens,
        estimated_cost_usd=prep.estimated_cost_usd,
        trained_tokens=record["trained_tokens"],
        billed_cost_usd=record["billed_cost_usd"],
        error=JobError(**record["error"]) if record["error"] else None,
        notes=notes,
    )


def job_update(step: jobs.Progress) -> Update:
    """Return a job event as an Update: the status as the stage, the event's message, its steps as done/total with
    the train loss as `loss` and the validation loss as `eval_loss`; kind "metrics", "message" or "status".
    """
    losses = {"loss": step.train_loss, "eval_loss": step.valid_loss}
    return Update(
        kind="metrics" if step.step is not None else "message" if step.message else "status",
        stage=step.status,
        message=step.message or None,
        done=step.step,
        total=step.total_steps,
        unit="steps" if step.step is not None else None,
        metrics={name: value for name, value in losses.items() if value is not None},
    )


def _existing_job(client: Any, record: dict[str, Any], prep: Prepared, notes: list[str]) -> tuple[Any | None, bool]:
    """Return (job, True) for the job this run already started, else (None, False).

    That is the job run.json names unless it failed or was cancelled, else one OpenAI holds with this run's hash.
    """
    if record.get("job_id"):
        with translated(f"reading job {record['job_id']}", client=client):
            job = jobs.reader(client).fine_tuning.jobs.retrieve(record["job_id"])
        status = jobs.status_of(job, record["job_id"])
        if status not in ("failed", "cancelled"):
            notes.append(f"attached to job {record['job_id']} started earlier for this run")
            return job, True
        notes.append(f"the earlier job {record['job_id']} ended {status}; starting a new one")
    job = jobs.find_job(client, prep.run_hash)
    if job is not None:
        notes.append(f"attached to job {jobs.field(job, 'id')} found on OpenAI for this run")
        return job, True
    return None, False
