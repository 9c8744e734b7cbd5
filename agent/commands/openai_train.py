"""`tunewise train --backend openai`: validate, price, get approval, then fine-tune on OpenAI exactly once.

`agent/commands/train.py` owns the `train` command and calls `run_openai_train` for this backend.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

    from tools.errors import TunewiseError
    from tools.openai_ft.finetune import Prepared
    from tools.progress import Update

# Long enough for a slow `jobs.create`; short enough that a lost answer is noticed and looked up.
CREATE_TIMEOUT_S = 60.0


def _auto(value: str | None, kind: type, flag: str) -> int | float | str:
    """`auto` (or nothing) stays auto; anything else must be a positive number of the right kind."""
    from tools.errors import UsageError

    if value is None or str(value).strip().lower() == "auto":
        return "auto"
    try:
        number = kind(str(value))
    except ValueError:
        number = 0
    if number <= 0:
        raise UsageError(
            f"{flag} must be auto or a positive {'integer' if kind is int else 'number'}, not '{value}'",
            hint=f"e.g. {flag} auto or {flag} {3 if kind is int else 1.5}",
        )
    return number


def _approve(prep: Prepared, *, yes: bool, plan: Path | None, json_out: bool) -> None:
    """Nothing spends money without --yes, an approved plan, or a yes at the prompt."""
    from agent.console import approve_spend, err_console
    from tools.approval import check_plan_file

    if plan is not None:
        check_plan_file(plan, step="train", cost_usd=prep.estimated_cost_usd)
        return
    if not yes and not json_out and sys.stdin.isatty():
        err_console.print("")
    approve_spend(
        f"fine-tuning on OpenAI costs about ${prep.estimated_cost_usd:.2f} and needs approval",
        question=f"Start the OpenAI fine-tuning job (about ${prep.estimated_cost_usd:.2f})?",
        yes=yes,
        json_out=json_out,
        hint="pass --yes, or --plan FILE with an approved plan",
        declined="not started: approval declined",
        nothing_spent="nothing was uploaded and nothing was spent",
    )


class _ProgressView:
    """A progress bar fed by job events on a terminal; a line per event (metrics thinned to ~10) elsewhere."""

    def __init__(self) -> None:
        from agent.console import err_console

        self.console = err_console
        self.bar: Bar | None = None
        self.task: TaskID | None = None
        if err_console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[loss]}"),
                TimeElapsedColumn(),
                console=err_console,
            )

    def __enter__(self) -> "_ProgressView":
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("waiting", total=None, loss="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, update: Update) -> None:
        loss = ""
        train, valid = update.metrics.get("loss"), update.metrics.get("eval_loss")
        if train is not None:
            loss = f"train loss {train:.3f}" + (f", valid loss {valid:.3f}" if valid is not None else "")
        status = update.stage or ""
        if self.bar is not None and self.task is not None:
            if update.done is not None:
                self.bar.update(self.task, completed=update.done, total=update.total, loss=loss, description=status)
            else:
                self.bar.update(self.task, description=status)
                if update.message:
                    self.bar.console.print(f"  {update.message}", markup=False, soft_wrap=True)
            return
        if update.done is None and update.message:
            self.console.print(f"  {update.message}", markup=False, soft_wrap=True)
        elif update.done is not None and (
            update.total is None or update.done % max(1, update.total // 10) == 0 or update.done == update.total
        ):
            total = f"/{update.total}" if update.total else ""
            self.console.print(f"  step {update.done}{total}: {loss}", markup=False, soft_wrap=True)


def _unreadable(exc: Exception, run_dir: Path) -> TunewiseError:
    """One line for an answer that could not be read, naming the job run.json already holds and how to follow it."""
    from tools.errors import TunewiseError
    from tools.openai_ft.finetune import read_record

    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    what = f"{type(exc).__name__}" + (f": {detail}" if detail else "")
    job = read_record(run_dir).get("job_id")
    if job:
        return TunewiseError(
            f"could not read the server's answer about fine-tuning job {job} ({what})",
            hint=f"the job keeps running: follow it with `tunewise jobs show {job}`, or re-run this "
            f"command to attach to it (its id is in {run_dir / 'run.json'})",
        )
    return TunewiseError(
        f"could not read the server's answer before a job was recorded ({what})",
        hint="check `tunewise jobs list`; re-running this command attaches to a job made for this run "
        "instead of creating another",
    )


def run_openai_train(
    data: Path,
    *,
    model: str,
    eval_file: Path | None,
    epochs: str | None,
    batch_size: str | None,
    lr_multiplier: str | None,
    suffix: str | None,
    seed: int | None,
    method: str,
    output: Path | None,
    wait: bool,
    yes: bool,
    plan: Path | None,
    allow_secrets: bool,
    json_out: bool,
) -> None:
    """Fine-tune `model` on OpenAI with `data`; re-running the same command attaches to the job it started."""
    from pydantic import ValidationError

    from agent.console import console, err_console, print_json
    from tools.clients import get_openai_client
    from tools.errors import TunewiseError, UsageError
    from tools.openai_ft.finetune import OpenAITrainInput, prepare, read_record, run
    from tools.settings import get_settings

    if method not in ("sft", "dpo"):
        raise UsageError(f"unknown method '{method}'", hint="use --method sft or --method dpo")
    try:
        inp = OpenAITrainInput(
            data=data,
            model=model,
            eval_file=eval_file,
            epochs=_auto(epochs, int, "--epochs"),
            batch_size=_auto(batch_size, int, "--batch-size"),
            lr_multiplier=_auto(lr_multiplier, float, "--lr-multiplier"),
            suffix=suffix,
            seed=seed,
            method=method,
            output=output,
            runs_dir=get_settings().runs_dir,
            wait=wait,
            allow_secrets=allow_secrets,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"--{'-'.join(map(str, first['loc']))}: {first['msg']}") from None

    prep = prepare(inp)
    if not json_out:
        err_console.print(
            f"OpenAI fine-tuning of {model} on {prep.examples:,} examples: {prep.tokens:,} tokens x "
            f"{prep.epochs} epochs = {prep.estimated_billed_tokens:,} billed tokens, about "
            f"${prep.estimated_cost_usd:.2f}",
            markup=False,
            soft_wrap=True,
        )
        for note in prep.warnings:
            err_console.print(f"note: {note}", markup=False, soft_wrap=True)
    # Re-running the command that started a job follows it: nothing new is spent, so nothing is asked. Should
    # that job have ended badly, `create=False` stops at an error rather than starting a new one unapproved.
    record = read_record(prep.run_dir)
    follow_only = (
        not yes
        and plan is None
        and record.get("run_hash") == prep.run_hash
        and bool(record.get("job_id"))
        and record.get("status") not in ("failed", "cancelled")
    )
    if follow_only:
        if not json_out:
            err_console.print(
                f"job {record['job_id']} was started earlier for this run: following it, nothing new is spent",
                markup=False,
                soft_wrap=True,
            )
    else:
        _approve(prep, yes=yes, plan=plan, json_out=json_out)

    client = get_openai_client(max_retries=0, timeout=CREATE_TIMEOUT_S)
    try:
        if json_out or not wait:
            result = run(inp, client=client, prepared=prep, create=not follow_only)
        else:
            with _ProgressView() as view:
                result = run(inp, client=client, prepared=prep, progress=view, create=not follow_only)
    except KeyboardInterrupt:
        job = read_record(prep.run_dir).get("job_id")
        if job is None:
            raise
        raise TunewiseError(
            f"stopped following job {job}; it keeps running on OpenAI",
            hint=f"tunewise jobs show {job}  (or re-run this command to follow it again)",
            exit_code=130,
        ) from None
    except TunewiseError:
        raise
    except Exception as exc:  # noqa: BLE001 - an answer the SDK or tunewise could not read: one line, never a traceback
        raise _unreadable(exc, prep.run_dir) from None

    if json_out:
        print_json(result.model_dump_json())
    else:
        for note in result.notes[len(prep.warnings) :]:
            err_console.print(f"note: {note}", markup=False, soft_wrap=True)
        console.print(f"job {result.job_id}: {result.status}", markup=False, soft_wrap=True)
        if result.fine_tuned_model:
            console.print(f"fine-tuned model: {result.fine_tuned_model}", markup=False, soft_wrap=True)
        if result.trained_tokens is not None:
            console.print(
                f"trained tokens: {result.trained_tokens:,}; billed ${result.billed_cost_usd:.2f} "
                f"(estimated ${result.estimated_cost_usd:.2f})",
                markup=False,
                soft_wrap=True,
            )
        if result.status not in ("succeeded", "failed", "cancelled"):
            console.print(f"follow it with: tunewise jobs show {result.job_id}", markup=False, soft_wrap=True)
        console.print(f"run folder: {result.run_dir}", markup=False, soft_wrap=True)
    if result.status == "failed":
        err = result.error
        what = f"{err.code}: {err.message}" if err else "no reason given"
        raise TunewiseError(
            f"fine-tuning job {result.job_id} failed: {what}",
            hint="fix what OpenAI reports and re-run; a new job is started only because this one failed",
        )
    if result.status == "cancelled":
        raise TunewiseError(
            f"fine-tuning job {result.job_id} was cancelled", hint="re-run the command to start a new job"
        )
