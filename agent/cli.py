"""The `tunewise` command line: every tool is a command of its own."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from agent.commands import deploy, demo, estimate, index, jobs, plan, search, serve, split, train, validate
from agent.commands import eval as eval_cmd  # `eval` would shadow the builtin
from tools.errors import TunewiseError

# Explicit list: the order is the order `tunewise --help` shows.
COMMANDS: list = [validate, split, estimate, train, jobs, index, search, plan, eval_cmd, deploy, serve, demo]


class _Group(TyperGroup):
    """Turns a TunewiseError into one line on stderr and its exit code, in the CLI and under CliRunner alike."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TunewiseError as exc:
            from agent.console import err_console

            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            from agent.console import err_console

            err_console.print("interrupted; nothing half-written was kept", markup=False)
            sys.exit(130)

    def list_commands(self, ctx):
        return list(self.commands)  # keep COMMANDS order rather than alphabetical


app = typer.Typer(
    name="tunewise",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Should you prompt, retrieve or fine-tune, and what will it cost? tunewise decides, prices and runs the plan."""


for _module in COMMANDS:
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
