"""Model specs as users write them on the command line: `hf:PATH[+adapter:DIR]`, `openai:MODEL[@URL]`, `+prompted`, `+rag`.

    hf:Qwen/Qwen2.5-0.5B-Instruct                a local transformers model (folder or hub name)
    hf:./base+adapter:runs/r1                    with the LoRA adapter of a `tunewise train` run (runs/r1/adapter)
    hf:+adapter:runs/r1                          the base named in the adapter's adapter_config.json
    openai:gpt-4.1-mini                          an OpenAI-compatible endpoint (OPENAI_BASE_URL or OpenAI)
    openai:ft:gpt-4.1-mini:org::abc@http://127.0.0.1:8000/v1   a model behind an inline base URL
    ...+prompted  ...+rag                        the system prompt and few-shot examples / retrieved context

Parsing only reads text; `adapter_dir` and `base_model` look at the file system when a model is about to load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import TunewiseError, UsageError

MODIFIERS = ("prompted", "rag")
_ADAPTER = "+adapter:"
_FORMS = "use hf:PATH, hf:PATH+adapter:DIR, openai:MODEL or openai:MODEL@URL, optionally ending in +prompted / +rag"


class ModelSpec(BaseModel):
    """One model to generate with, and how its prompts are built."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hf", "openai"] = Field(description="hf: local transformers; openai: an OpenAI-compatible endpoint.")
    path: str | None = Field(default=None, description="hf base model folder or hub name (None: the adapter's base).")
    adapter: str | None = Field(
        default=None, description="LoRA adapter: a `tunewise train` OUTPUT folder or the adapter folder."
    )
    model: str | None = Field(
        default=None, description="openai model name, e.g. gpt-4.1-mini or ft:gpt-4.1-mini:org::id."
    )
    base_url: str | None = Field(
        default=None, description="Inline @URL for openai specs; else OPENAI_BASE_URL applies."
    )
    prompted: bool = Field(
        default=False, description="Add the system prompt and few-shot examples from the train file."
    )
    rag: bool = Field(default=False, description="Add context retrieved from the --collection.")

    @classmethod
    def hf(cls, path: str | None, adapter: str | None = None) -> ModelSpec:
        """Name a local transformers model (`path`; None: the adapter's base) and its LoRA adapter folder."""
        return cls(kind="hf", path=path, adapter=adapter)

    @classmethod
    def openai(cls, model: str, base_url: str | None = None) -> ModelSpec:
        """Name a model on an OpenAI-compatible endpoint: `base_url`, else OPENAI_BASE_URL or OpenAI's own."""
        return cls(kind="openai", model=model, base_url=base_url)

    def adding(self, *, prompted: bool = False, rag: bool = False) -> ModelSpec:
        """Return this spec with `+prompted` and/or `+rag` added (modifiers it already has stay)."""
        return self.model_copy(update={"prompted": self.prompted or prompted, "rag": self.rag or rag})

    def __str__(self) -> str:
        """Write the spec as users do, the one way specs become text: `parse_spec(str(spec)) == spec`."""
        if self.kind == "hf":
            text = f"hf:{self.path or ''}" + (f"{_ADAPTER}{self.adapter}" if self.adapter else "")
        else:
            text = f"openai:{self.model}" + (f"@{self.base_url}" if self.base_url else "")
        return text + "".join(f"+{m}" for m in MODIFIERS if getattr(self, m))


def _bad(spec: str, why: str) -> TunewiseError:
    return UsageError(f"bad model spec '{spec}': {why}", hint=_FORMS)


def _strip_modifiers(text: str, spec: str) -> tuple[str, set[str]]:
    """Peel `+prompted` / `+rag` off the end, so a '+' inside a path or URL is left alone."""
    found: set[str] = set()
    while True:
        for mod in MODIFIERS:
            if text.endswith(f"+{mod}"):
                if mod in found:
                    raise _bad(spec, f"+{mod} is given twice")
                found.add(mod)
                text = text[: -len(mod) - 1]
                break
        else:
            return text, found


def parse_spec(spec: str, *, bare: Literal["hf"] | None = None) -> ModelSpec:
    """Parse one candidate spec; a TunewiseError (exit code 2) names what is wrong and the forms that work.

    With `bare="hf"`, a spec written without its `hf:` / `openai:` prefix names a local model (`NAME` reads as
    `hf:NAME`), as a plan's `--answer base_model=NAME` does.
    """
    if bare is not None and not spec.startswith(("hf:", "openai:")):
        spec = f"{bare}:{spec}"  # the user's shorthand, spelled out: errors quote the spec as it is read
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in ("hf", "openai"):
        raise _bad(spec, "it must start with hf: or openai:")
    rest, mods = _strip_modifiers(rest, spec)
    flags = {"prompted": "prompted" in mods, "rag": "rag" in mods}
    if kind == "hf":
        path, has_adapter, adapter = rest.partition(_ADAPTER)
        if "@" in rest and "://" in rest:
            raise _bad(spec, "an inline @URL belongs to openai: specs (serve a local model with `tunewise serve`)")
        if has_adapter and not adapter:
            raise _bad(spec, "+adapter: needs a folder")
        if not path and not has_adapter:
            raise _bad(spec, "hf: needs a model folder or hub name")
        if _ADAPTER in adapter:
            raise _bad(spec, "only one +adapter: is allowed")
        return ModelSpec(kind="hf", path=path or None, adapter=adapter or None, **flags)
    model, at, url = rest.partition("@")
    model, more = _strip_modifiers(model, spec)  # openai:MODEL+prompted@URL reads the same as ...@URL+prompted
    if more & mods:
        raise _bad(spec, "a modifier is given twice")
    flags = {m: flags[m] or m in more for m in MODIFIERS}
    if not model:
        raise _bad(spec, "openai: needs a model name")
    if _ADAPTER in model:
        raise _bad(spec, "+adapter: applies to hf: models (serve the adapter with `tunewise serve` to use it here)")
    if at and not url.startswith(("http://", "https://")):
        raise _bad(spec, f"the inline URL '{url}' must start with http:// or https://")
    return ModelSpec(kind="openai", model=model, base_url=url or None, **flags)


def adapter_dir(spec: ModelSpec) -> Path | None:
    """Return the adapter folder: DIR itself when it holds adapter_config.json, else DIR/adapter (a train run folder).

    None when the spec has no +adapter; a TunewiseError when neither folder holds an adapter.
    """
    if spec.adapter is None:
        return None
    given = Path(spec.adapter).expanduser()
    for folder in (given, given / "adapter"):
        if (folder / "adapter_config.json").is_file():
            return folder
    if not given.exists():
        raise TunewiseError("adapter folder not found", path=str(given), hint="pass a `tunewise train` --output folder")
    raise TunewiseError(
        "no adapter_config.json here or in adapter/",
        path=str(given),
        hint="pass a `tunewise train` --output folder or its adapter/ folder",
    )


def base_model(spec: ModelSpec) -> str:
    """Return the base model to load: the spec's path, else the one the adapter was trained on."""
    if spec.path:
        return spec.path
    folder = adapter_dir(spec)
    if folder is None:
        raise UsageError(f"'{spec}' names no base model", hint="use hf:PATH or hf:PATH+adapter:DIR")
    config = folder / "adapter_config.json"
    try:
        name = json.loads(config.read_text("utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise TunewiseError(f"cannot read the adapter config ({exc})", path=str(config)) from None
    if not name:
        raise TunewiseError(
            "the adapter config names no base model", path=str(config), hint="give it explicitly: hf:BASE+adapter:DIR"
        )
    return str(name)
