"""The `tunewise` command line: every tool is a command of its own."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from prompts import PromptError
from tools.errors import TunewiseError

if TYPE_CHECKING:
    from typer._click.core import Context  # the click typer vendors: TyperGroup's methods take its Context

# (module in agent.commands, the commands it adds), in the order `tunewise --help` shows them.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("validate", ("validate",)),
    ("split", ("split",)),
    ("estimate", ("estimate",)),
    ("train", ("train",)),
    ("jobs", ("jobs",)),
    ("index", ("index",)),
    ("search", ("search",)),
    ("plan", ("plan", "sessions", "resume")),
    ("synthesize", ("synthesize", "review")),
    ("eval", ("eval",)),
    ("deploy", ("deploy",)),
    ("serve", ("serve",)),
    ("demo", ("demo",)),
)


class _Group(TyperGroup):
    """Turns a TunewiseError into one line on stderr and its exit code, in the CLI and under CliRunner alike."""

    def invoke(self, ctx: Context) -> Any:  # click's own return type: whatever the command returns
        try:
            return super().invoke(ctx)
        except TunewiseError as exc:
            from agent.console import err_console

            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except PromptError as exc:  # prompts/ stands alone (stdlib only); its errors read as ours do
            from agent.console import err_console

            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            from agent.console import err_console

            err_console.print("interrupted; nothing half-written was kept", markup=False)
            sys.exit(130)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # keep COMMANDS order rather than alphabetical


def _root() -> None:
    """Should you prompt, retrieve or fine-tune, and what will it cost? tunewise decides, prices and runs the plan."""  # noqa: D401 - this is `tunewise --help`'s text: rewording it changes the CLI's output


def build_app(command: str | None = None) -> typer.Typer:
    """Build the CLI with every command, or with only `command` and what its module adds.

    Running one command needs only its own module: `tunewise validate` then starts without importing the
    training, serving and agent modules (start-up is part of every run's time).
    """
    cli = typer.Typer(
        name="tunewise",
        cls=_Group,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    cli.callback()(_root)
    for module, names in COMMANDS:
        if command is None or command in names:
            importlib.import_module(f"agent.commands.{module}").register(cli)
    return cli


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # `from agent.cli import app` (tests, embedding): the full CLI, built once on first use
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Commands that may load heavy libraries (torch, transformers, datasets, chromadb): their import noise and progress
# bars go to $TUNEWISE_HOME/logs/COMMAND.log unless --verbose. `plan` and `resume` run every step of an approved plan.
QUIET = ("serve", "train", "eval", "synthesize", "index", "search", "split", "demo", "plan", "resume", "deploy", "jobs")


def _quiet(command: str | None) -> None:
    import os

    verbose = "--verbose" in sys.argv[2:] or os.environ.get("TUNEWISE_VERBOSE", "") not in ("", "0")
    if command not in QUIET:
        return
    if "--verbose" in sys.argv[2:]:
        sys.argv.remove("--verbose")  # every heavy command takes it; their own options need not repeat it
    if not verbose:
        from agent.quiet import quiet_start
        from tools.settings import get_settings

        quiet_start(get_settings().home / "logs" / f"{command}.log")


def main() -> None:
    """Run `tunewise`: import only the module of the command named in argv (every module for --help or an
    unknown name), with a heavy command's import noise sent to its log unless --verbose.
    """
    first = sys.argv[1] if len(sys.argv) > 1 else None
    known = any(first in names for _, names in COMMANDS)
    _quiet(first)
    build_app(first if known else None)()


if __name__ == "__main__":
    main()
