"""The whole CLI built at import, for the documentation's generated reference (`typer agent.cli_reference utils docs`,
run by mkdocs-typer2 for docs/cli.md): agent/cli.py builds only the command being run, so it lists none.
"""

from __future__ import annotations

from agent.cli import build_app

app = build_app()
