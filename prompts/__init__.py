"""Prompt text lives in the `*.md` files beside this module; `render()` fills `${name}` slots and refuses to guess.

This package imports the standard library only, so any layer may use it: its error is its own `PromptError`.
"""

from __future__ import annotations

import re
from importlib import resources
from string import Template


class PromptError(ValueError):
    """A prompt that cannot be rendered: a bad name, a missing file or a missing variable (a bug, not user input).

    `str()` reads like tools.errors.TunewiseError's: "PATH: MESSAGE — HINT", and `message`, `path` and `hint` are
    kept, so a caller may turn it into a TunewiseError with the same text.
    """

    def __init__(self, message: str, *, hint: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        if self.hint:
            text += f" — {self.hint}"
        return text


class _Slots(Template):
    # Only ${name} is a slot, so prompts may hold "$5" or "$HOME" without escaping.
    # typeshed types `pattern` as the compiled Pattern, but Template compiles a subclass's string itself (a compiled
    # one would fail: Template passes its flags to re.compile), as the string.Template docs describe.
    pattern = r"\$\{(?P<braced>[a-z_][a-z0-9_]*)\}|(?P<escaped>\$\{\$\})|(?P<named>(?!))|(?P<invalid>(?!))"  # type: ignore[assignment]


def render(name: str, **variables: object) -> str:
    """Return the prompt file `prompts/NAME.md` with its `${slots}` filled.

    Raises PromptError for a name that is not lower_snake_case, a missing file, or a slot without a variable.
    """
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise PromptError(f"bad prompt name '{name}'", hint="prompt names are lower_snake_case file stems")
    try:
        text = resources.files("prompts").joinpath(f"{name}.md").read_text("utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt named '{name}'", path=f"prompts/{name}.md") from None
    try:
        return _Slots(text).substitute({k: str(v) for k, v in variables.items()})
    except KeyError as exc:
        raise PromptError(
            f"prompt '{name}' needs the variable {exc.args[0]}",
            path=f"prompts/{name}.md",
            hint=f"pass {exc.args[0]}=... to render()",
        ) from None
