"""`tunewise validate FILE`: every problem in a training file, before any money is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tools.defaults import DEFAULT_FINE_TUNE_MODEL


def validate(
    file: Annotated[Path, typer.Argument(help="Training file (.jsonl, or a .json array for Alpaca/ShareGPT).")],
    model: Annotated[
        str, typer.Option(help="Target model: tokenizer, per-example limit and price.")
    ] = DEFAULT_FINE_TUNE_MODEL,
    format: Annotated[
        Optional[str], typer.Option("--format", help="Force chat | preference | alpaca | sharegpt.")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Data stays on your machines: secrets are warnings, not errors.")
    ] = False,
    max_issues: Annotated[int, typer.Option(help="Most errors and warnings to list (all are counted).")] = 1000,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the report.")] = False,
) -> None:
    """Check a fine-tuning file: format errors, tokens, duplicates, secrets and PII, and what training will cost."""
    from tools.dataset.validate import ValidateInput, run
    from tools.errors import UsageError

    if format not in (None, "chat", "preference", "alpaca", "sharegpt"):
        raise UsageError(f"unknown format '{format}'", hint="use chat, preference, alpaca or sharegpt")
    result = run(ValidateInput(path=file, model=model, format=format, hosted=not local, max_issues=max_issues))
    if json_out:
        from agent.console import print_json

        print_json(
            result.model_dump_json(
                include={
                    "path",
                    "format",
                    "model",
                    "examples",
                    "valid_examples",
                    "errors",
                    "warnings",
                    "tokens",
                    "estimated_training_cost_usd",
                    "epochs",
                    "error_counts",
                    "warning_counts",
                    "messages_per_example",
                    "assistant_token_share",
                    "near_duplicates_searched",
                    "near_duplicate_horizon",
                }
            )
        )
    else:
        from agent.reports import render_validation

        render_validation(result)
    raise typer.Exit(0 if result.ok else 1)


def register(app: typer.Typer) -> None:
    """Add `tunewise validate` to `app`."""
    app.command("validate")(validate)
