"""`tunewise eval`: held-out evaluation of candidates (fine-tuned, base, prompt-engineered, RAG) with bootstrap
intervals and a verdict.

Every candidate answers exactly the same eval examples; metrics are chosen from what the references look like
(JSON, short labels, or prose with structural habits), each with a paired bootstrap 95% interval, and the top
candidate is compared with the runner-up metric by metric in one verdict line.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from tools import eval_prompts as ep
from tools.errors import TunewiseError
from tools.formats import load_examples
from tools.modelspec import ModelSpec, parse_spec

Progress = Callable[[str, int, int], None]  # (stage, done, total)
DEFAULT_PLAN_MODEL = "openai:gpt-4.1-mini"  # the article's prompt-engineering model when a plan names none
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class EvalInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eval_file: Path = Field(description="Held-out examples (the eval.jsonl `tunewise split` wrote); their final "
                                        "assistant turns are the references.")
    candidates: list[str] = Field(min_length=1, description="NAME=SPEC, e.g. tuned=hf:BASE+adapter:RUN, "
                                                            "prompted=openai:gpt-4.1-mini+prompted.")
    train_file: Path | None = Field(default=None, description="Where few-shot examples come from; must share no prompt with the eval file.")
    few_shot: int = Field(default=5, ge=0, le=50, description="Few-shot examples for +prompted candidates (the article's 3-5).")
    system_prompt_file: Path | None = Field(default=None, description="System prompt for +prompted; default: the data's own.")
    collection: str | None = Field(default=None, description="Collection `tunewise index` built, for +rag candidates.")
    rag_k: int = Field(default=4, ge=1, le=20, description="Passages retrieved per question for +rag.")
    schema_path: Path | None = Field(default=None, description="JSON schema every output must validate against.")
    judge: str | None = Field(default=None, description="openai:MODEL to grade outputs pairwise against the reference (spends API tokens).")
    max_examples: int | None = Field(default=None, ge=1, description="Evaluate only the first N usable examples.")
    max_new_tokens: int = Field(default=256, ge=1, le=8192, description="Longest reply generated per example.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 is greedy: the same outputs every run.")
    seed: int = Field(default=0, description="Seeds the few-shot sample, the judge's order and the bootstrap.")
    out: Path = Field(description="Report folder: report.json, report.md, report.html, outputs.jsonl.")


class MetricValue(BaseModel):
    model_config = ConfigDict(frozen=True)
    mean: float | None = Field(description="On all examples; None when the metric applied to none.")
    low: float | None = Field(description="Bootstrap 95% interval, lower end.")
    high: float | None = Field(description="Bootstrap 95% interval, upper end.")


class CandidateResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    spec: str
    n: int = Field(description="Examples answered (the same ones for every candidate).")
    metrics: dict[str, MetricValue]


class EvalResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    candidates: list[CandidateResult]
    winner: str | None = Field(description="The candidate with the most significant wins, or None when none stands out.")
    verdict: str = Field(description="The top candidate against the runner-up, metric by metric, with intervals.")
    report_dir: str


def parse_candidates(items: list[str]) -> dict[str, ModelSpec]:
    """NAME=SPEC pairs, names unique."""
    out: dict[str, ModelSpec] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise TunewiseError(f"bad --candidate '{item}'", hint="use NAME=SPEC, e.g. tuned=hf:BASE+adapter:RUN "
                                "(names: letters, digits, . _ -)", exit_code=2)
        if name in out:
            raise TunewiseError(f"candidate name '{name}' is used twice", hint="give each candidate its own name", exit_code=2)
        out[name] = parse_spec(spec)
    return out


def _read_schema(path: Path):
    from tools.metrics_eval import schema_validator

    try:
        schema = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TunewiseError("schema file not found", path=str(path), hint="check the --schema path") from None
    except ValueError as exc:
        raise TunewiseError(f"the schema is not JSON ({exc})", path=str(path)) from None
    return schema_validator(schema, str(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TunewiseError(f"cannot read the system prompt ({exc.__class__.__name__})", path=str(path),
                            hint="check the --system-prompt-file path") from None


def _finite(x: float) -> float | None:
    return None if x != x else round(float(x), 4)  # NaN is not JSON


def run(inp: EvalInput, *, progress: Progress | None = None, load=None, client=None, retriever=None,
        embedder=None) -> EvalResult:
    """Compare models on held-out examples: format, labels, overlap, similarity, refusals, with 95% intervals."""
    from tools import bootstrap as bs
    from tools import metrics_eval as me
    from tools.eval_report import write_reports
    from tools.generation import load_generator

    tick = progress or (lambda stage, done, total: None)
    specs = parse_candidates(inp.candidates)
    judge_spec = parse_spec(inp.judge) if inp.judge else None
    if judge_spec is not None and (judge_spec.kind != "openai" or judge_spec.prompted or judge_spec.rag):
        raise TunewiseError(f"bad --judge '{inp.judge}'", hint="use openai:MODEL, e.g. openai:gpt-4.1", exit_code=2)
    if judge_spec is not None and len(specs) < 2:
        raise TunewiseError("--judge compares candidates pairwise and needs two or more", exit_code=2)
    if any(s.rag for s in specs.values()) and not inp.collection and retriever is None:
        raise TunewiseError("a +rag candidate needs --collection", hint="build one with `tunewise index DOCS --collection NAME`", exit_code=2)
    validator = _read_schema(inp.schema_path) if inp.schema_path else None
    examples = ep.usable(load_examples(inp.eval_file))
    if not examples:
        raise TunewiseError("no eval example has both a user turn and a final assistant answer", path=str(inp.eval_file),
                            hint="the eval file needs chat examples ending in the reference answer")
    examples = examples[: inp.max_examples] if inp.max_examples else examples
    train = load_examples(inp.train_file) if inp.train_file else []
    if inp.train_file:
        ep.check_overlap(examples, train, inp.eval_file, inp.train_file)
    warnings: list[str] = []
    demos: list[dict[str, str]] = []
    shots: list[list[dict[str, str]]] = []
    system = _read_text(inp.system_prompt_file) if inp.system_prompt_file else None
    if any(s.prompted for s in specs.values()):
        if inp.few_shot and not train:
            raise TunewiseError("+prompted draws its few-shot examples from --train-file, which is missing",
                                hint="pass --train-file train.jsonl (never the eval file), or --few-shot 0", exit_code=2)
        shots = ep.few_shot_examples(train, inp.few_shot, inp.seed)
        demos = [turn for example in shots for turn in example]
        system = system or ep.data_system_prompt(train, examples)
        if not system and not demos:
            warnings.append("+prompted adds nothing here: no system prompt and no few-shot examples")

    base = [ep.plain_messages(ex) for ex in examples]
    hits: list = []
    if any(s.rag for s in specs.values()):
        retriever = retriever or _retriever(inp.collection)
        warnings.extend(getattr(retriever, "notes", []))  # e.g. a lexical index built on first use
        for i, messages in enumerate(base):
            hits.append(retriever.search(ep.latest_user(messages), k=inp.rag_k))
            tick("retrieve", i + 1, len(base))

    load = load or (lambda spec: load_generator(spec, client=client))
    loaded: dict[tuple, object] = {}
    generations: dict[str, list] = {}
    context: dict[str, dict] = {}
    for name, spec in specs.items():
        key = (spec.kind, spec.path, spec.adapter, spec.model, spec.base_url)  # +prompted shares its model's load
        if key not in loaded:
            loaded[key] = load(spec)
        convs, context[name] = _fit_candidate(loaded[key], base, hits, system=system, shots=shots, spec=spec,
                                              reserve=inp.max_new_tokens)
        if context[name]["trimmed"]:
            c = context[name]
            warnings.append(f"{name}: {c['trimmed']} of {len(convs)} prompts were trimmed to the model's "
                            f"{c['window']}-token window ({c['passages_dropped']} passages and "
                            f"{c['few_shot_dropped']} few-shot examples left out)")
        generations[name] = []
        for start in range(0, len(convs), 8):
            generations[name] += loaded[key].generate(convs[start : start + 8], max_new_tokens=inp.max_new_tokens,
                                                      temperature=inp.temperature)
            tick(f"generate {name}", len(generations[name]), len(convs))

    refs = [ex.reference for ex in examples]
    outputs = {name: [g.text for g in gens] for name, gens in generations.items()}
    prof = me.profile(refs, validator, judge=judge_spec is not None)
    if embedder is None:
        from agent.clients import get_embedder

        embedder = get_embedder("local")
    per_example = {name: me.score(texts, refs, prof, embedder) for name, texts in outputs.items()}
    unreadable = 0
    if judge_spec is not None:
        from tools.judge import judge

        questions = [ep.latest_user(m) for m in base]
        wins, unreadable = judge(questions, refs, outputs, load(judge_spec), seed=inp.seed,
                                 progress=lambda d, t: tick("judge", d, t))
        for name in outputs:
            per_example[name]["judge"] = wins[name]
        if unreadable:
            warnings.append(f"{unreadable} judge replies named no winner and counted as ties")

    stats: dict[str, dict[str, bs.Stat]] = {}
    for name, values in per_example.items():
        stats[name] = {m: bs.mean_stat(v) for m, v in values.items()}
        if prof.labels:
            gold = [me.norm_label(r) for r in refs]
            pred = me.predicted_labels(outputs[name], prof)
            stats[name]["macro_f1"] = bs.labels_f1_stat(pred, gold)
    metric_names = [m for m in prof.names if m in next(iter(stats.values()))]
    n = len(examples)
    # Every candidate's every metric on the same resamples, drawn a block at a time (a paired bootstrap).
    drawn = bs.samples({(name, m): stats[name][m] for name in stats for m in metric_names}, n, seed=inp.seed)
    intervals = {name: {m: bs.interval_of(stats[name][m], drawn[name, m], n) for m in metric_names} for name in stats}
    comparisons = [bs.compare_of(a, b, m, stats[a][m], stats[b][m], drawn[a, m], drawn[b, m], n)
                   for a, b in itertools.combinations(list(specs), 2) for m in metric_names if me.METRICS[m].better]
    means = {name: {m: iv.mean for m, iv in ivs.items()} for name, ivs in intervals.items()}
    ranked, scores = bs.rank(list(specs), comparisons, means)
    winner, verdict = bs.verdict(ranked, scores, comparisons, len(examples),
                                 frozenset(name for name, spec in specs.items() if spec.prompted))
    result = EvalResult(
        candidates=[CandidateResult(name=name, spec=str(spec), n=len(examples), metrics={
            m: MetricValue(mean=_finite(iv.mean), low=_finite(iv.low), high=_finite(iv.high))
            for m, iv in intervals[name].items()}) for name, spec in specs.items()],
        winner=winner, verdict=verdict, report_dir=str(inp.out))
    write_reports(inp, result, examples=examples, generations=generations, per_example=per_example,
                  comparisons=comparisons, ranked=ranked, profile=prof, warnings=warnings,
                  prompted={"system_prompt": system, "few_shot_turns": len(demos)}, context=context)
    return result


def _fit_candidate(generator, base: list, hits: list, *, system, shots, spec, reserve: int) -> tuple[list, dict]:
    """Each example's prompt for this candidate, fitted to the model's window, and what the fitting left out."""
    from tools.serving.budget import context_window

    render, tokenizer = getattr(generator, "render", None), getattr(generator, "tokenizer", None)
    window = context_window(getattr(getattr(generator, "model", None), "config", None), tokenizer) \
        if render is not None and tokenizer is not None else None
    count = (lambda conv: len(tokenizer(render(conv), add_special_tokens=False)["input_ids"])) if window else None
    convs, passages, few, trimmed = [], 0, 0, 0
    for i, messages in enumerate(base):
        conv, p, f = ep.fit_prompt(messages, system=system, examples=shots if spec.prompted else None,
                                   hits=hits[i] if spec.rag else None, count=count, window=window, reserve=reserve)
        convs.append(conv)
        passages, few, trimmed = passages + p, few + f, trimmed + bool(p or f)
    return convs, {"window": window, "trimmed": trimmed, "passages_dropped": passages, "few_shot_dropped": few}


def _retriever(collection: str | None):
    from agent.clients import LocalEmbedder, get_chroma_client, get_embedder
    from tools.search import Retriever, collection_embedder

    client = get_chroma_client()
    built_with = collection_embedder(client, collection or "")
    return Retriever(client, collection or "", get_embedder("local" if built_with in (None, LocalEmbedder.name) else built_with))


def plan_candidates(ctx) -> list[str]:
    """The plan's candidates: the trained model, its base, and the base prompt-engineered (+rag when indexed)."""
    trained = ctx.results.get("train") or {}
    steps = {s["step"]: s for s in ctx.plan.get("steps", [])}
    inputs = (steps.get("train") or {}).get("inputs") or {}
    tuned = None
    if inputs.get("backend") == "openai":
        base = f"openai:{inputs.get('model') or 'gpt-4.1-mini'}"
        tuned = f"openai:{trained['model']}" if trained.get("model") else None
    elif inputs.get("base_model"):
        base = f"hf:{inputs['base_model']}"
        if trained.get("adapter") and trained.get("status") in ("succeeded", "stopped_early"):
            tuned = f"{base}+adapter:{trained['adapter']}"
    else:  # nothing to train (the prompt-engineering plan): the base is the plan's API model
        base = str((ctx.step.get("inputs") or {}).get("model") or DEFAULT_PLAN_MODEL)
    rag = "+rag" if (ctx.results.get("index") or {}).get("collection") else ""
    out = ([f"tuned={tuned}"] + ([f"tuned_rag={tuned}{rag}"] if rag else [])) if tuned else []
    return out + [f"base={base}", f"prompted={base}+prompted"] + ([f"prompted_rag={base}+prompted{rag}"] if rag else [])


def from_plan(ctx) -> dict:
    """The agent's eval step: the split's held-out file, the trained model against its base and the prompted base."""
    from tools.atomic import write_text

    split = ctx.results.get("split") or {}
    candidates = plan_candidates(ctx)
    if not split.get("eval") or not candidates:
        return {"status": "skipped", "message": "evaluation skipped: no held-out split; run `tunewise eval "
                                                "--eval-file EVAL --candidate NAME=SPEC ...` by hand"}
    out = ctx.run_dir / "eval"
    step_inputs = ctx.step.get("inputs") or {}
    if ctx.resume and (out / "report.json").is_file():  # finished before the interruption: nothing to redo
        done = json.loads((out / "report.json").read_text("utf-8"))
        return {"status": "done", "verdict": done["verdict"], "winner": done["winner"], "report_dir": str(out)}
    system = None
    starter = (ctx.plan.get("starter_prompt") or {}).get("system")
    if starter:
        system = out / "system_prompt.md"
        write_text(system, starter)
    inp = EvalInput(eval_file=Path(split["eval"]), train_file=Path(split["train"]) if split.get("train") else None,
                    candidates=candidates, system_prompt_file=system, out=out,
                    collection=(ctx.results.get("index") or {}).get("collection"),
                    max_examples=step_inputs.get("examples"), max_new_tokens=step_inputs.get("max_new_tokens", 256))
    result = run(inp, progress=lambda stage, done, total: ctx.progress(
        {"event": "progress", "step": "eval", "stage": stage, "done": done, "total": total}))
    return {"status": "done", "verdict": result.verdict, "winner": result.winner, "report_dir": str(out),
            "summary": result.model_dump(mode="json")}
