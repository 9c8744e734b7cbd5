"""Terminal output shared by the commands: one console, JSON printing, quiet-mode progress, and the spend gate."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(text: str) -> None:
    """Write machine output to stdout untouched by rich (no wrapping, no markup)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def approve_spend(
    refusal: str, *, question: str, yes: bool, json_out: bool, hint: str, declined: str, nothing_spent: str
) -> None:
    """Stop unless spending money or GPU time is approved: the commands' one gate. --yes passes; a script (no
    terminal, or --json) gets `refusal` as one line (TunewiseError with `hint`); a person is asked `question` and a
    no stops with `declined` (hint `nothing_spent`).
    """
    import typer

    from tools.errors import TunewiseError

    if yes:
        return
    if json_out or not sys.stdin.isatty():
        raise TunewiseError(refusal, hint=hint)
    if not typer.confirm(question, default=False):
        raise TunewiseError(declined, hint=nothing_spent)
