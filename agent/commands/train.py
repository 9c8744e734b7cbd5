"""`tunewise train DATA --backend unsloth|hf|openai`: fine-tune locally with LoRA/QLoRA, or on OpenAI.

One command serves every backend; options whose default differs per backend (epochs, batch size, seed) default to
None here and the backend decides. Local runs: validate, price, get approval, then `tools.train.run`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tools.defaults import DEFAULT_FINE_TUNE_MODEL
from tools.train.config import TrainInput

if TYPE_CHECKING:
    from tools.progress import Update
    from tools.train.config import TrainResult
    from tools.train.preflight import Preflight

_F = TrainInput.model_fields
LOCAL_ONLY = (
    "base_model",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "load_in_4bit",
    "lr",
    "grad_accum",
    "max_seq_len",
    "warmup_steps",
    "packing",
    "max_steps",
    "save_steps",
    "eval_steps",
    "resume",
    "merge",
    "gguf",
    "early_stopping",
    "chat_template",
    "gradient_checkpointing",
    "launcher",
    "processes",
    "dry_run",
    "report_to",
)
OPENAI_ONLY = ("model", "lr_multiplier", "suffix", "method", "allow_secrets", "wait")


def _h(name: str) -> str:
    return f"[local] {_F[name].description}"


def train(
    data: Annotated[Path, typer.Argument(help="Training file: OpenAI chat JSONL, Alpaca or ShareGPT.")],
    backend: Annotated[
        str, typer.Option(help="unsloth | hf (local LoRA/QLoRA) | openai (hosted fine-tuning).")
    ] = "unsloth",
    base_model: Annotated[Optional[str], typer.Option(help=_h("base_model"))] = None,
    model: Annotated[Optional[str], typer.Option(help="[openai] Model to fine-tune (default gpt-4.1-mini).")] = None,
    output: Annotated[
        Optional[Path], typer.Option(help="Run folder (required for local backends; openai: under .tunewise/runs/).")
    ] = None,
    eval_file: Annotated[
        Optional[Path], typer.Option(help="Held-out examples: eval loss and the over-fitting guard.")
    ] = None,
    lora_r: Annotated[Optional[int], typer.Option(help=_h("lora_r") + " [default: 16]")] = None,
    lora_alpha: Annotated[Optional[int], typer.Option(help=_h("lora_alpha") + " [default: 16]")] = None,
    lora_dropout: Annotated[Optional[float], typer.Option(help=_h("lora_dropout") + " [default: 0]")] = None,
    target_modules: Annotated[
        Optional[str],
        typer.Option(help="[local] Comma-separated modules that get adapters [default: q,k,v,o,gate,up,down_proj]."),
    ] = None,
    load_in_4bit: Annotated[
        Optional[bool], typer.Option("--load-in-4bit/--no-load-in-4bit", help=_h("load_in_4bit"))
    ] = None,
    epochs: Annotated[
        Optional[str], typer.Option(help="Passes over the data: local default 3; openai default auto.")
    ] = None,
    lr: Annotated[Optional[float], typer.Option(help=_h("lr") + " [default: 2e-4]")] = None,
    lr_multiplier: Annotated[Optional[str], typer.Option(help="[openai] auto or a number.")] = None,
    batch_size: Annotated[
        Optional[str], typer.Option(help="Examples per step: local default 2; openai default auto.")
    ] = None,
    grad_accum: Annotated[Optional[int], typer.Option(help=_h("grad_accum"))] = None,
    max_seq_len: Annotated[Optional[int], typer.Option(help=_h("max_seq_len") + " [default: 2048]")] = None,
    warmup_steps: Annotated[Optional[int], typer.Option(help=_h("warmup_steps") + " [default: 5]")] = None,
    seed: Annotated[
        Optional[int], typer.Option(help="Random seed: local default 42; openai lets OpenAI choose.")
    ] = None,
    packing: Annotated[Optional[bool], typer.Option("--packing", help=_h("packing"))] = None,
    max_steps: Annotated[Optional[int], typer.Option(help=_h("max_steps"))] = None,
    save_steps: Annotated[Optional[int], typer.Option(help=_h("save_steps"))] = None,
    eval_steps: Annotated[Optional[int], typer.Option(help=_h("eval_steps"))] = None,
    resume: Annotated[Optional[bool], typer.Option("--resume", help=_h("resume"))] = None,
    merge: Annotated[Optional[bool], typer.Option("--merge", help=_h("merge"))] = None,
    gguf: Annotated[Optional[str], typer.Option(help=_h("gguf"))] = None,
    early_stopping: Annotated[Optional[bool], typer.Option("--early-stopping", help=_h("early_stopping"))] = None,
    chat_template: Annotated[Optional[str], typer.Option(help=_h("chat_template"))] = None,
    gradient_checkpointing: Annotated[
        Optional[bool],
        typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help=_h("gradient_checkpointing")),
    ] = None,
    launcher: Annotated[
        Optional[str],
        typer.Option(
            help="[local] accelerate: run the training in several processes through `accelerate launch` (FSDP over GPUs; DDP over CPU processes without CUDA)."
        ),
    ] = None,
    processes: Annotated[
        Optional[int],
        typer.Option(
            help="[local] --launcher accelerate: how many processes [default: the GPU count; 2 without CUDA]."
        ),
    ] = None,
    dry_run: Annotated[
        Optional[bool],
        typer.Option(
            "--dry-run",
            help="[local] --launcher accelerate: write the accelerate config and print the launch command; nothing trains.",
        ),
    ] = None,
    report_to: Annotated[Optional[str], typer.Option(help="[local] " + _F["report_to"].description)] = None,
    suffix: Annotated[Optional[str], typer.Option(help="[openai] Suffix of the fine-tuned model's name.")] = None,
    method: Annotated[Optional[str], typer.Option(help="[openai] sft | dpo.")] = None,
    wait: Annotated[
        Optional[bool], typer.Option("--wait/--no-wait", help="[openai] Follow the job to the end.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Approve the spend without asking.")] = False,
    plan: Annotated[
        Optional[Path], typer.Option(help="Approved plan file from the agent; the run must fit its 'train' step.")
    ] = None,
    allow_secrets: Annotated[
        Optional[bool],
        typer.Option("--allow-secrets", help="[openai] Upload even if the data looks like it holds secrets."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object; no progress display.")] = False,
) -> None:
    """Fine-tune a model on your data: LoRA/QLoRA on this machine (unsloth, hf) or a hosted OpenAI job."""
    from tools.errors import UsageError

    given = {k: v for k, v in locals().items() if v is not None}
    if backend not in ("unsloth", "hf", "openai"):
        raise UsageError(f"unknown backend '{backend}'", hint="use --backend unsloth, hf or openai")
    if backend == "openai":
        _train_openai(data, given)
        return
    _check_local(given, backend)
    inp = _local_input(given, data=data, backend=backend)
    _train_local(
        inp, launcher=launcher, processes=processes, dry_run=bool(dry_run), yes=yes, plan=plan, json_out=json_out
    )


def _train_openai(data: Path, given: dict[str, Any]) -> None:
    """Train on OpenAI: refuse any [local] option, then `run_openai_train` validates, prices, approves and runs."""
    from agent.commands.openai_train import run_openai_train

    _reject(given, LOCAL_ONLY, "openai")
    run_openai_train(
        data,
        model=given.get("model") or DEFAULT_FINE_TUNE_MODEL,
        eval_file=given.get("eval_file"),
        epochs=given.get("epochs"),
        batch_size=given.get("batch_size"),
        lr_multiplier=given.get("lr_multiplier"),
        suffix=given.get("suffix"),
        seed=given.get("seed"),
        method=given.get("method") or "sft",
        output=given.get("output"),
        wait=given.get("wait", True),
        yes=given["yes"],
        plan=given.get("plan"),
        allow_secrets=bool(given.get("allow_secrets")),
        json_out=given["json_out"],
    )


def _check_local(given: dict[str, Any], backend: str) -> None:
    """Refuse [openai] options on a local run, and --processes or --dry-run without --launcher accelerate."""
    from tools.errors import UsageError

    _reject(given, OPENAI_ONLY, backend)
    launcher = given.get("launcher")
    if launcher not in (None, "accelerate"):
        raise UsageError(f"unknown launcher '{launcher}'", hint="use --launcher accelerate")
    if launcher is None and (given.get("processes") is not None or given.get("dry_run")):
        raise UsageError("--processes and --dry-run go with --launcher accelerate", hint="add --launcher accelerate")


def _train_local(
    inp: TrainInput,
    *,
    launcher: str | None,
    processes: int | None,
    dry_run: bool,
    yes: bool,
    plan: Path | None,
    json_out: bool,
) -> None:
    """Train on this machine: as one rank a launcher started, as a dry run, through accelerate, or in this process."""
    from agent.commands import train_launch

    def approve(checked: Preflight) -> None:
        _approve(inp, checked, yes=yes, plan=plan, json_out=json_out)

    rank = train_launch.world()
    if rank is not None:  # started by a launcher as one of several processes
        train_launch.as_rank(
            inp,
            rank=rank[0],
            size=rank[1],
            approve=approve,
            progress=_Progress(quiet=json_out),
            json_out=json_out,
            render=_render,
        )
    elif launcher == "accelerate" and dry_run:
        train_launch.dry_run(inp, processes=processes, json_out=json_out)
    elif launcher == "accelerate":
        progress = _Progress(quiet=json_out)  # launch() opens and closes it around the processes
        result = train_launch.launch(inp, processes=processes, approve=approve, progress=progress)
        progress.finish(result)
        _output(result, json_out=json_out)
    else:
        _run_local(inp, yes=yes, plan=plan, json_out=json_out)


def _reject(given: dict[str, Any], names: tuple[str, ...], backend: str) -> None:
    from tools.errors import UsageError

    wrong = [n for n in names if n in given]
    if wrong:
        flags = ", ".join("--" + n.replace("_", "-") for n in wrong)
        raise UsageError(
            f"{flags} do(es) not apply to --backend {backend}",
            hint="the [local] options are for unsloth/hf, the [openai] ones for openai",
        )


def _number(value: str | None, kind: type, flag: str) -> Any:
    from tools.errors import UsageError

    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise UsageError(
            f"{flag} must be a number for a local run, not '{value}'",
            hint="'auto' is OpenAI's setting; leave it out for the local default",
        ) from None


def _local_input(given: dict[str, Any], *, data: Path, backend: str) -> TrainInput:
    from pydantic import ValidationError

    from tools.errors import UsageError

    for needed in ("base_model", "output"):
        if needed not in given:
            raise UsageError(
                f"--{needed.replace('_', '-')} is required for --backend {backend}",
                hint="e.g. --base-model ./models/Llama-3.2-1B --output runs/first",
            )
    fields = {k: v for k, v in given.items() if k in _F and k not in ("data", "backend", "epochs", "batch_size")}
    if "target_modules" in fields:
        fields["target_modules"] = fields["target_modules"].split(",")
    fields["epochs"] = _number(given.get("epochs"), float, "--epochs")
    fields["batch_size"] = _number(given.get("batch_size"), int, "--batch-size")
    try:
        return TrainInput(data=data, backend=backend, **{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg']}") from None


def _run_local(inp: TrainInput, *, yes: bool, plan: Path | None, json_out: bool) -> None:
    from tools.train.preflight import preflight
    from tools.train.run import run

    checked = preflight(inp)  # data errors stop here, before any model loads or anything is spent
    _approve(inp, checked, yes=yes, plan=plan, json_out=json_out)
    with _Progress(quiet=json_out) as progress:
        result = run(inp, progress=progress, checked=checked)
        progress.finish(result)
    _output(result, json_out=json_out)


def _output(result: TrainResult, *, json_out: bool) -> None:
    from agent.console import print_json

    if json_out:
        print_json(result.model_dump_json())
    else:
        _render(result)


def _estimate(inp: TrainInput, checked: Preflight) -> tuple[float, str]:
    """(cost in USD, one line for people) from `tunewise estimate` for this run on this machine's device."""
    import torch

    from tools.errors import TunewiseError

    cuda = torch.cuda.is_available()
    epochs = max(1, round(inp.resolved_epochs))
    try:
        from tools.costs.estimate import EstimateInput
        from tools.costs.estimate import run as estimate
        from tools.costs.gpu_time import gpu_catalog

        use_4bit = inp.load_in_4bit if inp.load_in_4bit is not None else cuda
        result = estimate(
            EstimateInput(
                path=str(inp.data),
                provider="local",
                base_model=inp.base_model,
                lora_r=inp.lora_r,
                target_modules=list(inp.target_modules),
                quant="4bit" if use_4bit else "16bit",
                max_seq_len=inp.max_seq_len,
                batch_size=inp.resolved_batch_size,
                epochs=epochs,
                gradient_checkpointing=inp.gradient_checkpointing,
                optim_bits=8 if cuda else 32,
            )
        )
    except (ImportError, TunewiseError) as exc:
        return 0.0, f"no estimate for this run ({exc}); {checked.examples:,} examples, {checked.tokens:,} tokens"
    local = [o for o in result.options if o.provider == "local"]
    gpu = gpu_catalog().find(torch.cuda.get_device_name(0)) if cuda else None
    mine = next((o for o in local if gpu is not None and o.gpu == gpu.name), None)
    lora = (
        f"{result.lora.trainable_params:,} trainable parameters ({result.lora.trainable_percent}%)"
        if result.lora
        else ""
    )
    if mine is not None and mine.training_cost_usd is not None:
        return mine.training_cost_usd, (
            f"{epochs} epochs on {mine.gpu}: about {mine.training_hours:.2f} h, "
            f"${mine.training_cost_usd:.2f}, {mine.vram_gb} GiB; {lora}"
        )
    fitting = [o for o in local if o.fits and o.training_cost_usd is not None]
    cheapest = min(fitting, key=lambda o: o.training_cost_usd or 0.0, default=None)  # all priced (just above)
    where = "on this CPU (no GPU bill)" if not cuda else "on this GPU (not in the price catalog)"
    line = f"{epochs} epochs {where}; {lora}"
    if cheapest is not None:
        line += (
            f"; for comparison {cheapest.gpu}: about {cheapest.training_hours:.2f} h, ${cheapest.training_cost_usd:.2f}"
        )
    return 0.0, line


def _approve(inp: TrainInput, checked: Preflight, *, yes: bool, plan: Path | None, json_out: bool) -> None:
    """Training spends GPU time: it needs --yes, an approved plan, or a yes at the prompt."""
    from agent.console import approve_spend, err_console
    from tools.approval import check_plan_file

    if yes and plan is None:
        return
    cost, line = _estimate(inp, checked)
    if plan is not None:
        check_plan_file(plan, step="train", cost_usd=cost)
        return
    if not json_out and sys.stdin.isatty():
        err_console.print(f"estimate: {line}", markup=False, soft_wrap=True)
    approve_spend(
        f"training spends compute and needs approval: {line}",
        question=f"Train {inp.base_model} with {inp.backend} on {checked.examples:,} examples?",
        yes=False,
        json_out=json_out,
        hint="pass --yes, or --plan FILE with an approved plan",
        declined="not started: approval declined",
        nothing_spent="nothing was trained and nothing was spent",
    )


class _Progress:
    """`tunewise train`'s progress through the one display (agent/run_view.py): a live line with the bar, loss,
    tokens/s, elapsed time and ETA on a terminal, about ten plain lines elsewhere, nothing with --json.
    """

    def __init__(self, *, quiet: bool) -> None:
        from agent.console import err_console
        from agent.run_view import RunView

        self.view = None if quiet else RunView(err_console)

    def __enter__(self) -> "_Progress":
        if self.view is not None:
            self.view.start("train")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.view is not None:
            self.view.close()

    def __call__(self, update: Update) -> None:
        if self.view is not None:
            self.view.update("train", update)

    def finish(self, result: TrainResult) -> None:
        """End the live line with the run's steps and how far the loss fell (the details follow on stdout)."""
        if self.view is None:
            return
        if result.first_loss is not None and result.final_loss is not None:
            loss = f"loss {result.first_loss:.2f} → {result.final_loss:.2f}"
        else:
            loss = f"final loss {result.final_loss:.2f}" if result.final_loss is not None else "no loss logged"
        self.view.finish(
            "train",
            "done" if result.status in ("succeeded", "stopped_early") else "skipped",
            seconds=result.wall_seconds,
            summary=f"{result.status}: {loss}",
            count=f"{result.steps}/{result.total_steps} steps",
        )


def _render(result: TrainResult) -> None:
    from agent.console import console

    losses = f"final loss {result.final_loss:.4f}" if result.final_loss is not None else "no loss logged"
    if result.best_eval_loss is not None:
        losses += f", best eval loss {result.best_eval_loss:.4f}"
    console.print(
        f"{result.status}: {result.steps}/{result.total_steps} steps on {result.device}, {losses}, "
        f"{result.tokens_trained:,} tokens at {result.tokens_per_second:,.0f} tokens/s",
        markup=False,
        soft_wrap=True,
    )
    console.print(f"adapter: {result.adapter_dir}", markup=False, soft_wrap=True)
    for label, value in (("merged model", result.merged_dir), ("Ollama Modelfile", result.modelfile)):
        if value:
            console.print(f"{label}: {value}", markup=False, soft_wrap=True)
    for path in result.gguf_files:
        console.print(f"GGUF: {path}", markup=False, soft_wrap=True)
    console.print(
        f"run log: {Path(result.output) / 'run.json'}, curves: {Path(result.output) / 'loss.png'}",
        markup=False,
        soft_wrap=True,
    )
    for warning in result.warnings:
        console.print(f"warning: {warning}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `tunewise train` to `app`."""
    app.command("train")(train)
