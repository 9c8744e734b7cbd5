"""`tunewise eval`: held-out evaluation of candidates (fine-tuned, base, prompt-engineered, RAG) with bootstrap
intervals and a verdict.

Every candidate answers exactly the same eval examples; metrics are chosen from what the references look like
(JSON, short labels, or prose with structural habits), each with a paired bootstrap 95% interval, and the top
candidate is compared with the runner-up metric by metric in one verdict line.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from tools.dataset.formats import load_examples
from tools.errors import TunewiseError
from tools.evaluation import candidate_prompts as ep
from tools.evaluation.schema import CandidateResult, EvalInput, EvalResult, MetricValue
from tools.models.spec import ModelSpec, parse_spec

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from tools.rag.search import SearchHit
    from tools.serving.budget import Count

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _read_schema(path: Path) -> Validator:
    from tools.evaluation.metrics import schema_validator

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
        raise TunewiseError(
            f"cannot read the system prompt ({exc.__class__.__name__})",
            path=str(path),
            hint="check the --system-prompt-file path",
        ) from None


def _finite(x: float) -> float | None:
    return None if x != x else round(float(x), 4)  # NaN is not JSON


def run(
    inp: EvalInput,
    *,
    load: Callable[[ModelSpec], Any],
    retriever: Any,
    embedder: Any,
    progress: Progress | None = None,
) -> EvalResult:
    """Compare models on held-out examples: format, labels, overlap, similarity, refusals, with 95% intervals.

    The callers build the clients: `load` turns a model spec into a generator (`tools.builders.generator_loader()`),
    `retriever` serves +rag candidates (None when there are none; `tools.builders.retriever_for`), and `embedder`
    scores similarity (`tools.rag.embedders.get_embedder("local")`).
    """
    from tools.evaluation import bootstrap as bs
    from tools.evaluation import metrics as me
    from tools.evaluation.report import write_reports

    tick = progress or (lambda stage, done, total: None)
    specs = inp.specs
    judge_spec = parse_spec(inp.judge) if inp.judge else None
    if judge_spec is not None and (judge_spec.kind != "openai" or judge_spec.prompted or judge_spec.rag):
        raise TunewiseError(f"bad --judge '{inp.judge}'", hint="use openai:MODEL, e.g. openai:gpt-4.1", exit_code=2)
    if judge_spec is not None and len(specs) < 2:
        raise TunewiseError("--judge compares candidates pairwise and needs two or more", exit_code=2)
    if any(s.rag for s in specs.values()) and retriever is None:
        raise TunewiseError(
            "a +rag candidate needs --collection",
            hint="build one with `tunewise index DOCS --collection NAME`",
            exit_code=2,
        )
    validator = _read_schema(inp.schema_path) if inp.schema_path else None
    examples = ep.usable(load_examples(inp.eval_file))
    if not examples:
        raise TunewiseError(
            "no eval example has both a user turn and a final assistant answer",
            path=str(inp.eval_file),
            hint="the eval file needs chat examples ending in the reference answer",
        )
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
            raise TunewiseError(
                "+prompted draws its few-shot examples from --train-file, which is missing",
                hint="pass --train-file train.jsonl (never the eval file), or --few-shot 0",
                exit_code=2,
            )
        shots = ep.few_shot_examples(train, inp.few_shot, inp.seed)
        demos = [turn for example in shots for turn in example]
        system = system or ep.data_system_prompt(train, examples)
        if not system and not demos:
            warnings.append("+prompted adds nothing here: no system prompt and no few-shot examples")

    base = [ep.plain_messages(ex) for ex in examples]
    hits: list = []
    if any(s.rag for s in specs.values()):
        warnings.extend(getattr(retriever, "notes", []))  # e.g. a lexical index built on first use
        for i, messages in enumerate(base):
            hits.append(retriever.search(ep.latest_user(messages), k=inp.rag_k))
            tick("retrieve", i + 1, len(base))

    loaded: dict[tuple, Any] = {}  # generators, as `load` returns them
    generations: dict[str, list] = {}
    context: dict[str, dict] = {}
    for name, spec in specs.items():
        key = (spec.kind, spec.path, spec.adapter, spec.model, spec.base_url)  # +prompted shares its model's load
        if key not in loaded:
            loaded[key] = load(spec)
        convs, context[name] = _fit_candidate(
            loaded[key], base, hits, system=system, shots=shots, spec=spec, reserve=inp.max_new_tokens
        )
        if context[name]["trimmed"]:
            c = context[name]
            warnings.append(
                f"{name}: {c['trimmed']} of {len(convs)} prompts were trimmed to the model's "
                f"{c['window']}-token window ({c['passages_dropped']} passages and "
                f"{c['few_shot_dropped']} few-shot examples left out)"
            )
        generations[name] = []
        for start in range(0, len(convs), 8):
            generations[name] += loaded[key].generate(
                convs[start : start + 8], max_new_tokens=inp.max_new_tokens, temperature=inp.temperature
            )
            tick(f"generate {name}", len(generations[name]), len(convs))

    refs = [ex.reference for ex in examples]
    outputs = {name: [g.text for g in gens] for name, gens in generations.items()}
    prof = me.profile(refs, validator, judge=judge_spec is not None)
    per_example = {name: me.score(texts, refs, prof, embedder) for name, texts in outputs.items()}
    unreadable = 0
    if judge_spec is not None:
        from tools.evaluation.judge import judge

        questions = [ep.latest_user(m) for m in base]
        wins, unreadable = judge(
            questions, refs, outputs, load(judge_spec), seed=inp.seed, progress=lambda d, t: tick("judge", d, t)
        )
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
    comparisons = [
        bs.compare_of(a, b, m, stats[a][m], stats[b][m], drawn[a, m], drawn[b, m], n)
        for a, b in itertools.combinations(list(specs), 2)
        for m in metric_names
        if me.METRICS[m].better
    ]
    means = {name: {m: iv.mean for m, iv in ivs.items()} for name, ivs in intervals.items()}
    ranked, scores = bs.rank(list(specs), comparisons, means)
    winner, verdict = bs.verdict(
        ranked, scores, comparisons, len(examples), frozenset(name for name, spec in specs.items() if spec.prompted)
    )
    result = EvalResult(
        candidates=[
            CandidateResult(
                name=name,
                spec=str(spec),
                n=len(examples),
                metrics={
                    m: MetricValue(mean=_finite(iv.mean), low=_finite(iv.low), high=_finite(iv.high))
                    for m, iv in intervals[name].items()
                },
            )
            for name, spec in specs.items()
        ],
        winner=winner,
        verdict=verdict,
        report_dir=str(inp.out),
    )
    write_reports(
        inp,
        result,
        examples=examples,
        generations=generations,
        per_example=per_example,
        comparisons=comparisons,
        ranked=ranked,
        profile=prof,
        warnings=warnings,
        prompted={"system_prompt": system, "few_shot_turns": len(demos)},
        context=context,
    )
    return result


def _fit_candidate(
    generator: Any,
    base: list[list[dict[str, str]]],
    hits: list[list[SearchHit]],
    *,
    system: str | None,
    shots: list[list[dict[str, str]]],
    spec: ModelSpec,
    reserve: int,
) -> tuple[list, dict]:
    """Each example's prompt for this candidate, fitted to the model's window, and what the fitting left out."""
    from tools.serving.budget import context_window

    render, tokenizer = getattr(generator, "render", None), getattr(generator, "tokenizer", None)
    window = (
        context_window(getattr(getattr(generator, "model", None), "config", None), tokenizer)
        if render is not None and tokenizer is not None
        else None
    )
    count: Count | None = None
    if window and render is not None and tokenizer is not None:  # a window is only found with both
        count = lambda conv: len(tokenizer(render(conv), add_special_tokens=False)["input_ids"])
    convs, passages, few, trimmed = [], 0, 0, 0
    for i, messages in enumerate(base):
        conv, p, f = ep.fit_prompt(
            messages,
            system=system,
            examples=shots if spec.prompted else None,
            hits=hits[i] if spec.rag else None,
            count=count,
            window=window,
            reserve=reserve,
        )
        convs.append(conv)
        passages, few, trimmed = passages + p, few + f, trimmed + bool(p or f)
    return convs, {"window": window, "trimmed": trimmed, "passages_dropped": passages, "few_shot_dropped": few}
