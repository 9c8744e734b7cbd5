"""Terminal output shared by the commands: one console, JSON printing, and quiet-mode progress."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(text: str) -> None:
    """Write machine output to stdout untouched by rich (no wrapping, no markup)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
