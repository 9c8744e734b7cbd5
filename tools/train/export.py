"""After training: a merged 16-bit model (`--merge`), GGUF through unsloth (`--gguf`), and an Ollama `Modelfile`.

The Modelfile's TEMPLATE is derived from the same Jinja chat template the adapter was trained with, by rendering
marker messages and cutting the result into per-role prefixes and suffixes, and its stop parameters are the
template's end-of-turn marker and eos: a model served by Ollama then stops exactly where the trained one did.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from tools.atomic import write_text
from tools.train.device import DeviceFacts

# A chat template as a function: render(messages, add_generation_prompt) -> the text the model sees.
Render = Callable[[list[dict[str, str]], bool], str]

_S, _U, _A, _U2 = "\x01SYSTEM\x01", "\x01USER\x01", "\x01ASSISTANT\x01", "\x01USER2\x01"


def replace_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written folder into place, so `final` is never half-written."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def free_training_memory() -> None:
    """Collect the trainer's reference cycles, then hand the cached GPU blocks back, before a 16-bit base loads."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def record_base(adapter_dir: Path, base_model: str) -> None:
    """Make the adapter name the base the user trained on (unsloth may have loaded a pre-quantised mirror of it)."""
    import json

    config = adapter_dir / "adapter_config.json"
    if not config.is_file():
        return
    data = json.loads(config.read_text("utf-8"))
    if data.get("base_model_name_or_path") != base_model:
        data["base_model_name_or_path"] = base_model
        write_text(config, json.dumps(data, indent=2, sort_keys=True) + "\n")


def merge(
    base_model: str, adapter_dir: Path, out_dir: Path, *, facts: DeviceFacts | None = None, cuda: bool | None = None
) -> Path:
    """Reload the base in 16 bits (never the 4-bit copy: merging into quantised weights loses the update), fold the
    adapter in, and save the result with the adapter's tokenizer, chat template and generation config.
    `cuda=False` merges on the CPU whatever the machine has; otherwise the device facts decide.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from tools.train import device

    facts = DeviceFacts() if cuda is False else (facts or device.detect())
    dtype = getattr(torch, device.merge_dtype(facts))
    base = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=dtype, device_map={"": facts.local_rank} if facts.cuda else None
    )
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    if (adapter_dir / "generation_config.json").is_file():
        merged.generation_config = GenerationConfig.from_pretrained(str(adapter_dir))
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(tmp)
    replace_dir(tmp, out_dir)
    del merged, base
    return out_dir


def gguf_files(returned: Any, out_dir: Path) -> list[str]:
    """Return the GGUF files an unsloth export wrote. unsloth 2026.10's GPU exporter returns a dict whose `gguf_files` lie in
    the sibling folder OUTPUT/gguf_gguf (save.py, `_gguf_output_directory`); its CPU exporter returns a list of
    paths inside OUTPUT/gguf. Both answers are taken as given, and both folders are searched when neither is.
    """
    if isinstance(returned, dict):
        returned = returned.get("gguf_files")
    if isinstance(returned, (list, tuple)) and returned:
        return sorted(str(p) for p in returned if str(p).endswith(".gguf") and Path(p).is_file())
    sibling = out_dir.with_name(f"{out_dir.name}_gguf")
    return sorted(str(p) for folder in (out_dir, sibling) if folder.is_dir() for p in folder.rglob("*.gguf"))


def gguf(model: Any, tokenizer: Any, out_dir: Path, quant: str) -> list[str]:
    """Export GGUF through unsloth's exporter (it builds llama.cpp); return the files written.

    Raises RuntimeError when the exporter reports success but no .gguf file is there.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = gguf_files(model.save_pretrained_gguf(str(out_dir), tokenizer, quantization_method=quant), out_dir)
    if not files:
        raise RuntimeError(
            f"unsloth's exporter reported success but no .gguf file is in {out_dir} or its _gguf sibling"
        )
    return files


def _cut(text: str, marker: str) -> tuple[str, str]:
    at = text.index(marker)
    return text[:at], text[at + len(marker) :]


def go_template(render: Render) -> str:
    """Build an Ollama (Go) TEMPLATE equivalent to a chat template; `render(messages, add_generation_prompt)` renders
    it. Raises ValueError for a template that is not incremental or that a Modelfile cannot quote.
    """
    r_u = render([{"role": "user", "content": _U}], False)
    r_ua = render([{"role": "user", "content": _U}, {"role": "assistant", "content": _A}], False)
    r_uau = render(
        [{"role": "user", "content": _U}, {"role": "assistant", "content": _A}, {"role": "user", "content": _U2}], False
    )
    gen = render([{"role": "user", "content": _U}], True)
    if not (r_ua.startswith(r_u) and r_uau.startswith(r_ua) and gen.startswith(r_u)):
        raise ValueError("the chat template is not incremental")
    user_pre, user_post = _cut(r_uau[len(r_ua) :], _U2)  # a user turn in the middle of a conversation
    head = r_u[: len(r_u) - len(user_pre + _U + user_post)]  # bos and any default system text
    if not r_u.endswith(user_pre + _U + user_post):
        raise ValueError("the first user turn renders differently from later ones")
    asst_pre, asst_post = _cut(r_ua[len(r_u) :], _A)
    prompt = gen[len(r_u) :]
    try:
        r_su = render([{"role": "system", "content": _S}, {"role": "user", "content": _U}], False)
        sys_pre, sys_post = _cut(r_su[: len(r_su) - len(user_pre + _U + user_post)], _S)
        system = "{{ if .System }}" + sys_pre + "{{ .System }}" + sys_post + "{{ else }}" + head + "{{ end }}"
    except Exception:  # templates that reject a system role
        system = head
    go = (
        system
        + '{{ range .Messages }}{{ if eq .Role "user" }}'
        + user_pre
        + "{{ .Content }}"
        + user_post
        + '{{ else if eq .Role "assistant" }}'
        + asst_pre
        + "{{ .Content }}"
        + asst_post
        + "{{ end }}{{ end }}"
        + prompt
    )
    if '"""' in go:
        raise ValueError('the template contains """, which a Modelfile cannot quote')
    return go


def write_modelfile(path: Path, *, source: str, render: Render, stops: list[str]) -> list[str]:
    """Write an Ollama Modelfile for `source` (a GGUF file or a merged folder, relative to the Modelfile); return
    its warnings (a template Go cannot express is left out, and Ollama uses the model's own).
    """
    lines = [f"# Built by tunewise; import with: ollama create NAME -f {path.name}", f"FROM {source}"]
    warnings = []
    try:
        lines.append(f'TEMPLATE """{go_template(render)}"""')
    except (ValueError, KeyError) as exc:
        warnings.append(f"Modelfile written without TEMPLATE ({exc}); Ollama will use the model's own")
    for stop in dict.fromkeys(s for s in stops if s):
        escaped = stop.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'PARAMETER stop "{escaped}"')
    write_text(path, "\n".join(lines) + "\n")
    return warnings
