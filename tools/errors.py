"""The one error type a user sees: what went wrong, where, and what to do about it."""

from __future__ import annotations

from typing import Any, Mapping


class TunewiseError(Exception):
    """A problem the user can fix; the CLI prints it as one line, never a traceback."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        line: int | None = None,
        exit_code: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.exit_code = exit_code

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_event(self) -> dict[str, Any]:
        """Return the error as the JSON event a child process sends its parent (`from_event` reads it back)."""
        return {
            "event": "error",
            "message": self.message,
            "hint": self.hint,
            "path": self.path,
            "line": self.line,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> TunewiseError:
        """Rebuild the error a child process sent as `to_event()` (missing fields take their defaults); it comes
        back a TunewiseError with the same exit code, whatever subclass was sent.
        """
        return TunewiseError(
            str(event.get("message") or "the child process failed without saying why"),
            hint=event.get("hint"),
            path=event.get("path"),
            line=event.get("line"),
            exit_code=int(event.get("exit_code") or 1),
        )


class UsageError(TunewiseError):
    """The command was called wrongly (a flag, an argument, a missing file named on the command line): exit 2, as
    Click's own usage errors do, so scripts can tell "you called it wrong" from "the input has a problem" (exit 1).
    """

    def __init__(
        self, message: str, *, hint: str | None = None, path: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message, hint=hint, path=path, line=line, exit_code=2)
