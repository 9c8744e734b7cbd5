"""The costed plan: the recommendation, the steps with the tools they call (each priced and timed by
`tools.costs.estimate`), the validation summary, the risks, and what each approach needs besides (a starter prompt,
an index plan, a collection target). `total_usd` is what the approval covers.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from graphs.state import AgentState

TOKENS_PER_EXAMPLE = 500  # the article's "10,000 training examples averaging 500 tokens each"
EVAL_MAX = 100  # the article: "a held-out evaluation set: 50-100 examples the model never saw"
EVAL_CANDIDATES = 3  # tuned vs base vs prompt-engineered
CHUNK_CHARS = 1600  # a size-based guess, only when the local embedder's tokenizer is not installed
CHUNKS_PER_SECOND = 50  # MiniLM on 2 CPU cores, measured by benchmarks/rag_bench.py's order of magnitude
FEW_SHOT = 4  # the article's "3-5 few-shot examples"
PROMPTED_MODEL = "gpt-4.1-mini"  # the base model a prompt-engineering plan is evaluated on

# Step 5's paths as estimate inputs and train settings. Base models are the article's (Unsloth's 4-bit builds);
# `--answer base_model=PATH` replaces them, e.g. with a local folder.
PATHS: dict[str, dict[str, Any]] = {
    "openai_gpt41_mini": {"provider": "openai", "model": "gpt-4.1-mini", "backend": "openai"},
    "openai_gpt41": {"provider": "openai", "model": "gpt-4.1", "backend": "openai"},
    "qlora_self_hosted": {
        "provider": "local",
        "catalog": "Llama-3.1-8B",
        "quant": "4bit",
        "gpu": "RTX 4090",
        "base_model": "unsloth/Meta-Llama-3.1-8B-bnb-4bit",
        "backend": "unsloth",
    },
    # The 70B paths train through `accelerate launch` (hf backend, FSDP), one process per GPU the estimate needs.
    "qlora_70b": {
        "provider": "local",
        "catalog": "Llama-3.1-70B",
        "quant": "4bit",
        "gpu": "H100",
        "base_model": "unsloth/Meta-Llama-3.1-70B-bnb-4bit",
        "backend": "hf",
        "launcher": "accelerate",
    },
    "lora_70b": {
        "provider": "local",
        "catalog": "Llama-3.1-70B",
        "quant": "16bit",
        "gpu": "H100",
        "base_model": "meta-llama/Llama-3.1-70B-Instruct",
        "backend": "hf",
        "launcher": "accelerate",
    },
}
# `--answer KEY=VALUE` settings carried into a step's inputs (a short run, a smaller eval): (step, input, type).
RUN_OPTIONS: dict[str, tuple[str, str, type]] = {
    "max_steps": ("train", "max_steps", int),
    "lr": ("train", "lr", float),
    "gradient_checkpointing": ("train", "gradient_checkpointing", bool),
    "eval_examples": ("eval", "examples", int),
    "max_new_tokens": ("eval", "max_new_tokens", int),
}
# The tool each step calls, as the plan names it to users and in `--json` (a stable label: the modules now live in
# tools/dataset/split.py, tools/rag/index.py, tools/train/ and tools/openai_ft/, tools/evaluation/, tools/deploy/).
STEP_TOOLS = {
    "split": "tools.split",
    "index": "tools.index",
    "train": "tools.train / tools.openai_ft",
    "eval": "tools.evaluate",
    "deploy": "tools.deploy",
}
APPROACH_STEPS = {
    "prompt_engineering": ["split", "eval"],
    "rag": ["split", "index", "eval", "deploy"],
    "fine_tune": ["split", "train", "eval", "deploy"],
    "fine_tune_rag": ["split", "index", "train", "eval", "deploy"],
    "collect_more_data": [],
}


def build_plan(state: AgentState) -> dict:
    """The plan for the state's recommendation; every number comes from a tool or a named assumption."""
    rec, decision = state["recommendation"], state.get("decision") or {}
    facts = decision.get("facts") or {}
    validation = state.get("validation")
    preset = state.get("preset") or {}
    approach, path = rec["approach"], rec["fine_tune_path"] or decision.get("path_if_fine_tuning")
    examples = (validation or {}).get("good_examples", facts.get("examples", 0))
    eval_count = _eval_count(examples)
    plan: dict[str, Any] = {
        "approach": approach,
        "fine_tune_path": rec["fine_tune_path"],
        "rationale": rec["rationale"],
        "notes": list(decision.get("notes") or []),
        "validation": validation,
        "steps": [],
        "risks": [],
        "assumptions": [],
        "starter_prompt": None,
        "index_plan": None,
        "collect": decision.get("collect"),
    }
    few = few_shot(state["data_path"]) if state.get("data_path") else []
    if approach == "prompt_engineering" or (approach == "rag" and facts.get("problem") == "both"):
        plan["starter_prompt"] = starter_prompt(state.get("goal") or "", few)
    names = APPROACH_STEPS[approach]
    if approach == "collect_more_data":  # nothing to train yet; the knowledge half can still be indexed
        names = ["index"] if facts.get("problem") == "both" and state.get("docs_dir") else []
    estimate = _estimate(path, examples, validation, preset, facts) if "train" in names and examples else None
    for name in names:
        step = {"step": name, "tool": STEP_TOOLS[name], "cost_usd": 0.0, "hours": 0.0, "runnable": True, "inputs": {}}
        _price(step, state, plan, estimate, eval_count, path, preset)
        plan["steps"].append(step)
    _chain(plan["steps"])
    if estimate:
        plan["estimate"] = estimate
    plan["total_usd"] = round(sum(s["cost_usd"] for s in plan["steps"]), 2)
    plan["total_hours"] = round(sum(s["hours"] for s in plan["steps"]), 3)
    plan["risks"] += _risks(state, plan, facts, examples)
    return plan


def _eval_count(examples: int) -> int:
    count = min(EVAL_MAX, max(10, examples // 10))
    return count if examples - count >= 50 else max(1, examples // 5)


def _price(
    step: dict, state: AgentState, plan: dict, estimate: dict | None, eval_count: int, path: str | None, preset: dict
) -> None:
    name, data, docs = step["step"], state.get("data_path"), state.get("docs_dir")
    if name == "split":
        step["inputs"] = {"path": data, "eval": eval_count}
        step["description"] = (
            f"keep {eval_count} examples aside for evaluation, near-duplicates on one side"
            if data
            else "keep examples aside for evaluation, once there are some (--data FILE)"
        )
        _needs(step, data, "--data FILE")
    elif name == "index":
        plan["index_plan"] = index_plan(docs, preset.get("collection") or _collection(state))
        step["inputs"] = {"paths": [docs] if docs else [], "collection": plan["index_plan"]["collection"]}
        step["hours"] = plan["index_plan"]["hours"]
        step["description"] = (
            f"index {plan['index_plan']['files']} files (~{plan['index_plan']['estimated_chunks']} "
            f"chunks) into Chroma with the local MiniLM embedder: no API cost"
        )
        _needs(step, docs, "--docs DIR")
    elif name == "train":
        spec = PATHS[path]
        step.update(cost_usd=estimate["training_cost_usd"] or 0.0, hours=estimate["training_hours"] or 0.0)
        step["inputs"] = {
            "backend": spec["backend"],
            "model": spec.get("model"),
            "gpu": estimate.get("gpu"),
            "base_model": preset.get("base_model") or spec.get("base_model"),
            "option": estimate["option"],
        }
        step["description"] = estimate["summary"]
        if spec.get("launcher"):
            step["inputs"].update(launcher=spec["launcher"], processes=estimate["gpus"], gpus=estimate["gpus"])
            n = estimate["gpus"]
            step["description"] += f" ({n} process{'es' if n > 1 else ''} through accelerate launch)"
        step["inputs"].update(run_options(preset, "train"))
        _needs(step, data, "--data FILE")
    elif name == "eval":
        tuned = "train" in APPROACH_STEPS[plan["approach"]]
        step["inputs"] = {
            "examples": eval_count,
            "candidates": ["tuned", "base", "prompted"] if tuned else ["base", "prompted"],
        }
        if not tuned:  # the prompt-engineered path is judged on the model it prompts
            step["inputs"]["model"] = f"openai:{PROMPTED_MODEL}"
        step["inputs"].update(run_options(preset, "eval"))
        scored = min(eval_count, step["inputs"]["examples"])  # --answer eval_examples=N scores fewer of them
        step["cost_usd"] = _eval_cost(path if tuned else None, state.get("validation"), scored)
        step["description"] = (
            f"score {scored if data else 'the'} held-out examples: the result against the base "
            f"model and the prompt-engineered one"
        )
        _needs(step, data, "--data FILE")
    elif name == "deploy":
        step["description"] = "write the deployment folder (model, collection, system prompt) for `tunewise serve`"


def run_option(key: str, value: str) -> int | float | bool:
    """One `--answer` run setting, read from its text; a bad value is one clear error."""
    from tools.errors import TunewiseError

    kind = RUN_OPTIONS[key][2]
    text = str(value).strip().lower()
    try:
        if kind is bool:
            if text not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise ValueError(text)
            return text in ("true", "yes", "on", "1")
        number = kind(text)
    except ValueError:
        wanted = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
        raise TunewiseError(
            f"--answer {key}={value!r} is not {wanted}",
            hint=f"e.g. --answer {key}={'false' if kind is bool else 40 if kind is int else 0.005}",
            exit_code=2,
        ) from None
    if number <= 0:
        raise TunewiseError(f"--answer {key}={value!r} must be above 0", hint=f"e.g. --answer {key}=40", exit_code=2)
    return number


def run_options(preset: dict, step: str) -> dict:
    """The step's inputs that `--answer` settings replace."""
    return {
        name: run_option(key, preset[key])
        for key, (where, name, _) in RUN_OPTIONS.items()
        if where == step and key in preset
    }


def _chain(steps: list[dict]) -> None:
    """Deploy ships what train and index made: it cannot run when they cannot."""
    blocked = [s["step"] for s in steps if not s["runnable"] and s["step"] in ("train", "index")]
    for step in steps:
        if step["step"] == "deploy" and blocked:
            step["runnable"] = False
            step["blocked_by"] = f"needs the {' and '.join(blocked)} step{'s' if len(blocked) > 1 else ''} first"


def _needs(step: dict, value: Any, flag: str) -> None:
    if not value:
        step["runnable"] = False
        step["blocked_by"] = f"needs {flag}"


def _collection(state: AgentState) -> str:
    return f"plan-{state.get('session') or 'docs'}"


def _estimate(path: str, examples: int, validation: dict | None, preset: dict, facts: dict) -> dict:
    """Price the training step with tools.costs.estimate for the chosen path."""
    from tools.costs.estimate import EstimateInput, run

    spec = PATHS[path]
    tokens = validation["tokens_total"] if validation else examples * TOKENS_PER_EXAMPLE
    args: dict[str, Any] = {"tokens": max(1, tokens), "examples": max(1, examples), "provider": spec["provider"]}
    if spec["provider"] == "openai":
        args["models"] = [spec["model"]]
    else:
        args.update(base_model=preset.get("base_model") or spec["catalog"], quant=spec["quant"])
    result = run(EstimateInput(**args))
    options = [o for o in result.options if o.path == "fine-tune"]
    option = next((o for o in options if o.provider == "openai"), None) or _pick_gpu(options, spec.get("gpu"))
    out = {
        "option": option.id,
        "provider": option.provider,
        "model": option.model,
        "gpu": option.gpu,
        "epochs": option.epochs,
        "billed_tokens": option.billed_tokens,
        "vram_gb": option.vram_gb,
        "fits": option.fits,
        "available": option.available,
        "training_cost_usd": option.training_cost_usd,
        "training_hours": option.training_hours,
        "gpus": 1,
        # the option and the estimate both carry OpenAI's closing notice: said once
        "notes": list(dict.fromkeys([*option.notes, *result.notes])),
        "tokens_assumed": validation is None,
    }
    if option.fits is False:  # no single GPU holds it: price the same compute on enough GPUs (ideal scaling)
        fit = run(EstimateInput(**{**args, "quant": "4bit", "gpu": option.gpu}))
        same = next(o for o in fit.options if o.path == "fine-tune")
        gpus = math.ceil(option.vram_gb / _gpu_memory(option.gpu))
        out.update(
            gpus=gpus,
            training_cost_usd=same.training_cost_usd,
            training_hours=round((same.training_hours or 0) / gpus, 3),
        )
        out["notes"].append(
            f"{option.vram_gb} GiB of training memory needs {gpus} x {option.gpu} (FSDP); cost and "
            f"time are the same compute spread over {gpus} GPUs, assuming ideal scaling"
        )
    where = f"{out['gpus']} x {option.gpu}" if option.gpu else "OpenAI"
    base = preset.get("base_model") or spec.get("base_model") or option.model
    out["summary"] = f"fine-tune {base} on {where}: {option.epochs} epochs, {option.billed_tokens:,} trained tokens" + (
        f", {option.vram_gb} GiB" if option.vram_gb else ""
    )
    return out


def _pick_gpu(options: list, preferred: str | None):
    fitting = [o for o in options if o.fits]
    return (
        next((o for o in fitting if o.gpu == preferred), None)
        or min(fitting, key=lambda o: o.training_cost_usd, default=None)
        or next((o for o in options if o.gpu == preferred), options[0])
    )


def _gpu_memory(name: str) -> float:
    from tools.costs.gpu_time import gpu_catalog

    return gpu_catalog(None).get(name).memory_gib


def _eval_cost(path: str | None, validation: dict | None, eval_count: int) -> float:
    """An upper bound for OpenAI-hosted candidates: every token billed at the output price, the prompted one
    carrying its few-shot examples; local candidates run on the training machine.
    """
    if not validation or (path is not None and not path.startswith("openai")):
        return 0.0
    from tools.costs.catalog import openai_catalog

    info = openai_catalog().model(PATHS[path]["model"] if path else PROMPTED_MODEL)
    prices = info.finetuned if path else info.base
    candidates = EVAL_CANDIDATES if path else EVAL_CANDIDATES - 1
    tokens = eval_count * validation["tokens_per_example_mean"] * (candidates + FEW_SHOT)
    return round(tokens * prices.output / 1e6, 2)


def index_plan(docs: str | None, collection: str) -> dict:
    files = (
        [p for p in Path(docs).rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts)]
        if docs and Path(docs).is_dir()
        else ([Path(docs)] if docs and Path(docs).is_file() else [])
    )
    size = sum(p.stat().st_size for p in files)
    chunks, counted = (max(1, size // CHUNK_CHARS) if files else 0), False
    if files:
        from tools.errors import TunewiseError

        try:  # the index step's own chunking with MiniLM's tokenizer: exact, and quick (no model, no store)
            from tools.rag.embedders import get_embedder
            from tools.rag.index import count_chunks

            _, chunks, _ = count_chunks([Path(docs)], get_embedder("local"), chunk_tokens=400, overlap=60)
            counted = True
        except TunewiseError:
            pass  # the rag extra is not installed: keep the size-based guess
    from tools.settings import get_settings

    return {
        "docs": docs,
        "files": len(files),
        "bytes": size,
        "estimated_chunks": chunks,
        "chunks_counted": counted,
        "collection": collection,
        "embedder": "local:all-MiniLM-L6-v2",
        "chunk_tokens": 400,
        "overlap": 60,
        "db": str(get_settings().chroma_dir),
        "hours": round(chunks / CHUNKS_PER_SECOND / 3600, 3),
        "refresh": "re-run the index step when the documents change: only changed files are embedded again",
    }


def few_shot(path: str, k: int = FEW_SHOT, scan: int = 5000) -> list[dict]:
    """K short, distinct examples from the data, spread from the shortest answer to the longest."""
    from tools.dataset.formats import detect_format, iter_json_array, iter_raw_lines, to_messages

    p = Path(path)
    with p.open("rb") as fh:
        array = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
    rows = iter_json_array(p) if array else iter_raw_lines(p)
    seen, pool = set(), []
    for n, (_, raw) in enumerate(rows):
        if n >= scan:
            break
        try:
            record = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
            messages = to_messages(record, detect_format(record) or "")
        except Exception:  # an invalid record is validate's business; it is simply not a candidate here
            continue
        user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), None)
        if not isinstance(user, str) or not isinstance(answer, str) or len(user) + len(answer) > 1500:
            continue
        key = re.sub(r"\W+", " ", user.lower()).strip()
        if key and key not in seen:
            seen.add(key)
            pool.append({"user": user, "assistant": answer})
    pool.sort(key=lambda ex: (len(ex["assistant"]), ex["user"]))
    if len(pool) <= k:
        return pool
    return [pool[round(i * (len(pool) - 1) / (k - 1))] for i in range(k)] if k > 1 else pool[:1]


def starter_prompt(goal: str, examples: list[dict]) -> dict:
    from prompts import render

    return {
        "system": render("starter_system_prompt", goal=goal.strip() or "answer the way the examples do"),
        "few_shot": examples,
    }


def _risks(state: AgentState, plan: dict, facts: dict, examples: int) -> list[str]:
    risks = []
    v = state.get("validation")
    if v and v["errors"]:
        risks.append(
            f"{v['examples'] - v['valid_examples']} examples have errors and are left out; "
            f"run `tunewise validate {v['path']}` and fix them"
        )
    if v and v["good_examples"] < v["valid_examples"]:
        risks.append(
            f"{v['valid_examples'] - v['good_examples']} duplicates or conflicting answers: a model trained on "
            f"them learns to be inconsistent"
        )
    if plan["approach"] in ("fine_tune", "fine_tune_rag") and examples < 500:
        risks.append(
            "a small dataset over-fits easily: watch the training loss, and if it nears zero, lower epochs or add data"
        )
    if plan["approach"] == "fine_tune_rag" or facts.get("problem") == "both":
        risks.append("fine-tuning does not reliably teach facts: keep the knowledge in retrieval")
    for step in plan["steps"]:
        if not step["runnable"]:
            risks.append(f"the {step['step']} step {step['blocked_by']}; it is skipped until then")
    estimate = plan.get("estimate") or {}
    risks += [n for n in estimate.get("notes", []) if "close" in n or "GiB" in n]
    train = next((s for s in plan["steps"] if s["step"] == "train"), None)
    if train and train["inputs"]["backend"] != "openai" and not (state.get("preset") or {}).get("base_model"):
        risks.append(
            f"training loads {train['inputs']['base_model']} from the Hugging Face cache or hub; on a machine "
            f"without either, pass --answer base_model=PATH with a local model folder"
        )
    if estimate.get("tokens_assumed"):
        risks.append(f"no training file given, so tokens are assumed at {TOKENS_PER_EXAMPLE} per example")
    for key, step in (state.get("steps") or {}).items():
        if step["source"] == "assumed":
            risks.append(f"step '{key}' was not answered and is {step['evidence']}")
    if plan["steps"]:
        risks.append(
            "evaluate on the held-out split against the base and the prompt-engineered model before "
            "deploying: without numbers, you're guessing"
        )
    return risks
