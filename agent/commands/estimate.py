"""`tunewise estimate [FILE]`: training cost, time, GPU memory, monthly inference and break-even of every path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from tools.costs.estimate import EstimateResult


def _split(values: list[str] | None) -> list[str] | None:
    """Accept repeated flags and comma lists alike: --model a --model b, or --model a,b."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _epochs(value: str) -> int | str:
    from tools.errors import UsageError

    if value == "auto":
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise UsageError(f"--epochs must be 'auto' or a whole number of at least 1, got '{value}'")


def estimate(
    file: Annotated[
        Optional[Path], typer.Argument(help="Training file to count tokens from (or give --tokens and --examples).")
    ] = None,
    tokens: Annotated[Optional[int], typer.Option(help="Tokens in the training data, without a FILE.")] = None,
    examples: Annotated[Optional[int], typer.Option(help="Examples in the training data, without a FILE.")] = None,
    provider: Annotated[str, typer.Option(help="Fine-tuning paths to price: openai, local or all.")] = "all",
    model: Annotated[
        Optional[list[str]],
        typer.Option(
            "--model", help="OpenAI model(s); repeat or comma-separate. Default: gpt-4.1-mini, gpt-4.1, gpt-6-luna."
        ),
    ] = None,
    base_model: Annotated[
        Optional[str],
        typer.Option(
            help="Open model for local training: catalog name, folder with config.json, or HF-cached repo id."
        ),
    ] = None,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    target_modules: Annotated[
        Optional[str], typer.Option(help="Comma list of modules that get adapters (default: all linear).")
    ] = None,
    quant: Annotated[str, typer.Option(help="Base weights during training: 4bit (QLoRA) or 16bit.")] = "4bit",
    method: Annotated[str, typer.Option(help="lora (adapters) or full (every weight, 16bit).")] = "lora",
    max_seq_len: Annotated[int, typer.Option(help="Longest training sequence.")] = 2048,
    batch_size: Annotated[int, typer.Option(help="Sequences per GPU step.")] = 2,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Recompute activations in backward.")] = True,
    optim_bits: Annotated[int, typer.Option(help="AdamW state precision: 8 or 32.")] = 8,
    gpu: Annotated[Optional[str], typer.Option(help="Price one GPU (e.g. H100) instead of the whole catalog.")] = None,
    epochs: Annotated[str, typer.Option(help="'auto' (OpenAI's heuristic) or a number.")] = "auto",
    mfu: Annotated[float, typer.Option(help="Share of peak bf16 FLOP/s training achieves.")] = 0.35,
    requests_per_month: Annotated[
        Optional[int], typer.Option(help="Requests a month: prices inference and the break-even.")
    ] = None,
    prompt_tokens: Annotated[
        Optional[int], typer.Option(help="Prompt tokens per request today (system prompt + few-shot + input).")
    ] = None,
    finetuned_prompt_tokens: Annotated[
        Optional[int], typer.Option(help="Prompt tokens per request once fine-tuned (default: the file's mean prompt).")
    ] = None,
    output_tokens: Annotated[
        Optional[int], typer.Option(help="Output tokens per request (default: the file's mean answer).")
    ] = None,
    rag_context_tokens: Annotated[int, typer.Option(help="Retrieved tokens per request on the RAG path.")] = 2000,
    cached_prompt_fraction: Annotated[
        float, typer.Option(help="Share of prompt tokens billed at OpenAI's cached price.")
    ] = 0.0,
    calibrate: Annotated[
        Optional[Path], typer.Option(help="Run folder of a finished `tunewise train`: use its measured speed.")
    ] = None,
    prices: Annotated[
        Optional[Path], typer.Option(help="JSON file layered over the shipped OpenAI and GPU prices.")
    ] = None,
    synthesize: Annotated[
        Optional[int],
        typer.Option(min=1, help="Also price drafting N more examples from FILE's (`tunewise synthesize`)."),
    ] = None,
    teacher: Annotated[
        Optional[str], typer.Option(help="The drafting model for --synthesize [default: OpenAI's default model].")
    ] = None,
    judge: Annotated[
        Optional[str], typer.Option(help="The judging model for --synthesize [default: the teacher].")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
    today: Annotated[
        Optional[str],
        typer.Option(hidden=True, help="Judge OpenAI's fine-tuning access and models' lives as of this ISO date."),
    ] = None,
) -> None:
    """Price every path side by side: prompting, RAG, OpenAI and local fine-tuning, with VRAM and break-even."""
    from pydantic import ValidationError

    from tools.costs.estimate import EstimateInput, run
    from tools.errors import UsageError
    from tools.settings import get_settings

    fields = dict(
        path=str(file) if file else None,
        tokens=tokens,
        examples=examples,
        provider=provider,
        base_model=base_model,
        lora_r=lora_r,
        target_modules=_split([target_modules] if target_modules else None),
        quant=quant,
        method=method,
        max_seq_len=max_seq_len,
        batch_size=batch_size,
        gradient_checkpointing=gradient_checkpointing,
        optim_bits=optim_bits,
        gpu=gpu,
        epochs=_epochs(epochs),
        mfu=mfu,
        requests_per_month=requests_per_month,
        prompt_tokens=prompt_tokens,
        finetuned_prompt_tokens=finetuned_prompt_tokens,
        output_tokens=output_tokens,
        rag_context_tokens=rag_context_tokens,
        cached_prompt_fraction=cached_prompt_fraction,
        calibrate=str(calibrate) if calibrate else None,
        prices_file=str(prices)
        if prices
        else (str(get_settings().prices_file) if get_settings().prices_file else None),
    )
    if model:
        fields["models"] = _split(model)
    if today:  # reproducible estimates (tests, docs): the same day gives the same OpenAI notes
        fields["today"] = today
    try:
        inp = EstimateInput(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "input"
        raise UsageError(f"{flag}: {err['msg']}", hint="see `tunewise estimate --help`") from None
    result = run(inp)
    drafting = _drafting(file, synthesize, teacher, judge) if synthesize else None
    if json_out:
        import json

        from agent.console import print_json

        body = json.loads(result.model_dump_json())
        if drafting is not None:
            body["synthesize"] = drafting.model_dump()
        print_json(json.dumps(body))
    else:
        render(result)
        if drafting is not None:
            from agent.console import console

            console.print(
                f"Drafting {synthesize:,} examples (tunewise synthesize): up to ${drafting.total_usd:,.2f}, teacher "
                f"{drafting.teacher_billed or 'unbilled (local)'} ${drafting.teacher_usd:,.2f}, judge "
                f"{drafting.judge_billed or 'unbilled (local)'} ${drafting.judge_usd:,.2f}; {drafting.calls:,} calls",
                markup=False,
            )


def _drafting(file: Path | None, n: int, teacher: str | None, judge: str | None) -> Any:
    """Price `tunewise synthesize FILE --n N` with the same bound the run checks (nothing is written)."""
    from tools.defaults import DEFAULT_OPENAI_MODEL
    from tools.errors import UsageError
    from tools.synthesize.run import estimate as synth_price
    from tools.synthesize.schema import SynthInput

    if file is None:
        raise UsageError("--synthesize needs the seeds: give FILE", hint="tunewise estimate SEEDS --synthesize 200")
    teacher = teacher or f"openai:{DEFAULT_OPENAI_MODEL}"
    out = file.with_name(f"{file.stem}.synthesized.jsonl")
    return synth_price(SynthInput(seeds=file, n=n, teacher=teacher, judge=judge, out=out))


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:,.1f} h"


def render(result: EstimateResult) -> None:
    """Print the people view: one row per path, then the LoRA summary and the assumptions."""
    from rich.table import Table

    from agent.console import console

    d = result.dataset
    console.print(f"[bold]{d.source}[/]: {d.examples:,} examples, {d.tokens:,} tokens")
    table = Table(title_justify="left", show_lines=False)
    table.add_column("path", no_wrap=True)  # the id is what --json and the agent refer to: keep it whole
    for name in ("training $", "time", "VRAM GiB", "inference $/mo", "break-even"):
        table.add_column(name, justify="right")
    table.add_column("availability")
    for o in result.options:
        fit = (
            "—"
            if o.vram_gb is None
            else (
                f"[green]{o.vram_gb:.1f}[/] batch≤{o.max_batch_size}" if o.fits else f"[red]{o.vram_gb:.1f} too big[/]"
            )
        )
        even = (
            "—"
            if o.compared_with is None
            else ("never" if o.break_even_month is None else f"month {o.break_even_month}")
        )
        colour = {"existing_only": "yellow", "closed": "red"}.get(o.availability)
        until = f"serves until {o.serves_until}" if o.serves_until else ""
        shown = ", ".join(filter(None, [o.availability, until])) if o.path == "fine-tune" else until or "—"
        table.add_row(
            o.id,
            _money(o.training_cost_usd),
            _hours(o.training_hours),
            fit,
            _money(o.monthly_inference_usd),
            even,
            f"[{colour}]{shown}[/]" if colour else shown,
        )
    console.print(table)
    if result.lora:
        lo = result.lora
        how = "full fine-tuning" if lo.method == "full" else f"LoRA r={lo.lora_r} on {','.join(lo.target_modules)}"
        console.print(
            f"{lo.base_model}, {how}: {lo.trainable_params:,} trainable of {lo.total_params:,} parameters "
            f"({lo.trainable_percent:.4f}%)"
        )
    if result.vram:
        v = result.vram
        console.print(
            f"VRAM: weights {v.weights_gib} + trainable state {v.trainable_state_gib} + activations "
            f"{v.activations_gib} + logits {v.logits_gib} + runtime {v.runtime_gib} = {v.total_gib} GiB"
        )
    for note in result.notes:
        console.print(f"• {note}", markup=False)
    for o in result.options:  # each option's own notes: a model's end of service, a break-even that never comes
        for note in o.notes:
            if note not in result.notes:
                console.print(f"• {o.id}: {note}", markup=False)


def register(app: typer.Typer) -> None:
    """Add `tunewise estimate` to `app`."""
    app.command("estimate")(estimate)
