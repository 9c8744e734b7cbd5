"""Prompt text lives in the `*.md` files beside this module; `render()` fills `${name}` slots and refuses to guess."""

from __future__ import annotations

import re
from importlib import resources
from string import Template

from tools.errors import TunewiseError


class _Slots(Template):
    # Only ${name} is a slot, so prompts may hold "$5" or "$HOME" without escaping.
    pattern = r"\$\{(?P<braced>[a-z_][a-z0-9_]*)\}|(?P<escaped>\$\{\$\})|(?P<named>(?!))|(?P<invalid>(?!))"


def render(name: str, **variables: object) -> str:
    """The prompt file `prompts/NAME.md` with its `${slots}` filled; a missing variable is an error."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise TunewiseError(f"bad prompt name '{name}'", hint="prompt names are lower_snake_case file stems")
    try:
        text = resources.files("prompts").joinpath(f"{name}.md").read_text("utf-8")
    except FileNotFoundError:
        raise TunewiseError(f"no prompt named '{name}'", path=f"prompts/{name}.md") from None
    try:
        return _Slots(text).substitute({k: str(v) for k, v in variables.items()})
    except KeyError as exc:
        raise TunewiseError(
            f"prompt '{name}' needs the variable {exc.args[0]}",
            path=f"prompts/{name}.md",
            hint=f"pass {exc.args[0]}=... to render()",
        ) from None
