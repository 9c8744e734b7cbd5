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
from typing import TYPE_CHECKING, Any

from tools.dataset.formats import load_examples
from tools.errors import TunewiseError, UsageError
from tools.evaluation import candidate_prompts as ep
from tools.evaluation.gap import gap_closure
from tools.evaluation.ledger import GenerationLedger
from tools.evaluation.ledger import key as ledger_key
from tools.evaluation.schema import CandidateResult, EvalInput, EvalResult, MetricValue
from tools.models.spec import ModelSpec, parse_spec
from tools.progress import Progress, Update, silent

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from tools.dataset.formats import ChatExample
    from tools.evaluation.bootstrap import Comparison
    from tools.evaluation.metrics import Profile
    from tools.models.generation import Generation
    from tools.rag.search import SearchHit
    from tools.serving.budget import Count
    from tools.serving.clients import Generator, Loader
    from tools.serving.clients import Retriever as Retrieving


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
    load: Loader,
    retriever: Retrieving | None,
    embedder: Any,
    progress: Progress | None = None,
) -> EvalResult:
    """Compare models on held-out examples: format, labels, overlap, similarity, refusals, with 95% intervals.

    The callers build the clients: `load` turns a model spec into a generator (`tools.builders.generator_loader()`),
    `retriever` serves +rag candidates (None when there are none; `tools.builders.retriever_for`), and `embedder`
    scores similarity (`tools.rag.embedders.get_embedder("local")`). `progress` hears each stage's examples done:
    "retrieve", then "generate NAME" per candidate, then "judge" (in comparisons) when there is a judge.
    """
    from tools.evaluation.report import write_reports

    progress = progress or silent
    judge_spec = _check(inp, retriever)
    validator = _read_schema(inp.schema_path) if inp.schema_path else None
    examples, train = _read_examples(inp)
    warnings: list[str] = []
    system, shots = _prompting(inp, examples, train, warnings)
    base = [ep.plain_messages(ex) for ex in examples]
    hits = _retrieve(inp, base, retriever, warnings, progress)
    generations, context = _generate(inp, base, hits, load, system, shots, warnings, progress)
    refs = [ex.reference for ex in examples]
    outputs = {name: [g.text for g in gens] for name, gens in generations.items()}
    prof, per_example = _score(inp, base, refs, outputs, validator, judge_spec, load, embedder, warnings, progress)
    result, comparisons, ranked = _compare(inp, refs, outputs, prof, per_example)
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
        prompted={"system_prompt": system, "few_shot_turns": sum(len(shot) for shot in shots)},
        context=context,
    )
    return result


def _check(inp: EvalInput, retriever: Retrieving | None) -> ModelSpec | None:
    """Refuse a judge that is not an OpenAI model or has one candidate to judge, and +rag without a collection;
    return the judge's spec (None without --judge).
    """
    specs = inp.specs
    judge_spec = parse_spec(inp.judge) if inp.judge else None
    if judge_spec is not None and (judge_spec.kind != "openai" or judge_spec.prompted or judge_spec.rag):
        raise UsageError(f"bad --judge '{inp.judge}'", hint="use openai:MODEL, e.g. openai:gpt-4.1")
    if judge_spec is not None and len(specs) < 2:
        raise UsageError("--judge compares candidates pairwise and needs two or more")
    if any(s.rag for s in specs.values()) and retriever is None:
        raise UsageError(
            "a +rag candidate needs --collection",
            hint="build one with `tunewise index DOCS --collection NAME`",
        )
    return judge_spec


def _read_examples(inp: EvalInput) -> tuple[list[ChatExample], list[ChatExample]]:
    """Return the held-out examples (the first --max-examples usable ones) and the train file's, checked apart."""
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
    return examples, train


def _prompting(
    inp: EvalInput, examples: list[ChatExample], train: list[ChatExample], warnings: list[str]
) -> tuple[str | None, list[list[dict[str, str]]]]:
    """Return the system prompt (--system-prompt-file) and the few-shot examples +prompted candidates get, drawn
    from the train file; without a file, +prompted candidates get the data's own system prompt.
    """
    shots: list[list[dict[str, str]]] = []
    system = _read_text(inp.system_prompt_file) if inp.system_prompt_file else None
    if any(s.prompted for s in inp.specs.values()):
        if inp.few_shot and not train:
            raise UsageError(
                "+prompted draws its few-shot examples from --train-file, which is missing",
                hint="pass --train-file train.jsonl (never the eval file), or --few-shot 0",
            )
        shots = ep.few_shot_examples(train, inp.few_shot, inp.seed)
        system = system or ep.data_system_prompt(train, examples)
        if not system and not any(shots):
            warnings.append("+prompted adds nothing here: no system prompt and no few-shot examples")
    return system, shots


def _retrieve(
    inp: EvalInput,
    base: list[list[dict[str, str]]],
    retriever: Retrieving | None,
    warnings: list[str],
    progress: Progress,
) -> list[list[SearchHit]]:
    """Search the collection once per example for the +rag candidates; nothing when there are none."""
    hits: list[list[SearchHit]] = []
    if any(s.rag for s in inp.specs.values()):
        assert retriever is not None  # _check refused +rag candidates without one
        warnings.extend(retriever.notes)  # e.g. a lexical index built on first use
        for i, messages in enumerate(base):
            hits.append(retriever.search(ep.latest_user(messages), k=inp.rag_k))
            progress(Update(stage="retrieve", done=i + 1, total=len(base), unit="examples"))
    return hits


def _generate(
    inp: EvalInput,
    base: list[list[dict[str, str]]],
    hits: list[list[SearchHit]],
    load: Loader,
    system: str | None,
    shots: list[list[dict[str, str]]],
    warnings: list[str],
    progress: Progress,
) -> tuple[dict[str, list[Generation]], dict[str, dict]]:
    """Have every candidate answer every example, eight at a time, each prompt fitted to the candidate's window;
    return the answers and what the fitting left out, by candidate.
    """
    loaded: dict[tuple, Generator] = {}  # generators, as `load` returns them
    generations: dict[str, list] = {}
    context: dict[str, dict] = {}
    for name, spec in inp.specs.items():
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
        kept = GenerationLedger(inp.cache_dir, name) if inp.cache_dir is not None else None
        keys = [ledger_key(str(spec), c, inp.max_new_tokens, inp.temperature) for c in convs] if kept else []
        for start in range(0, len(convs), 8):
            batch = convs[start : start + 8]
            if kept is not None and all(k in kept.done for k in keys[start : start + 8]):
                generations[name] += [kept.done[k] for k in keys[start : start + 8]]  # paid for before a kill
            else:
                made = loaded[key].generate(batch, max_new_tokens=inp.max_new_tokens, temperature=inp.temperature)
                generations[name] += made
                if kept is not None:
                    kept.add(keys[start : start + 8], made)
            progress(Update(stage=f"generate {name}", done=len(generations[name]), total=len(convs), unit="examples"))
    return generations, context


def _score(
    inp: EvalInput,
    base: list[list[dict[str, str]]],
    refs: list[str],
    outputs: dict[str, list[str]],
    validator: Validator | None,
    judge_spec: ModelSpec | None,
    load: Loader,
    embedder: Any,
    warnings: list[str],
    progress: Progress,
) -> tuple[Profile, dict[str, dict[str, list[float]]]]:
    """Score every answer against its reference with the metrics the references support, plus the judge's pairwise
    win rates when there is one; return the metrics chosen and the per-example values.
    """
    from tools.evaluation import metrics as me

    prof = me.profile(refs, validator, judge=judge_spec is not None)
    per_example = {name: me.score(texts, refs, prof, embedder) for name, texts in outputs.items()}
    if judge_spec is not None:
        from tools.evaluation.judge import judge

        questions = [ep.latest_user(m) for m in base]
        wins, unreadable = judge(questions, refs, outputs, load(judge_spec), seed=inp.seed, progress=progress)
        for name in outputs:
            per_example[name]["judge"] = wins[name]
        if unreadable:
            warnings.append(f"{unreadable} judge replies named no winner and counted as ties")
    return prof, per_example


def _compare(
    inp: EvalInput,
    refs: list[str],
    outputs: dict[str, list[str]],
    prof: Profile,
    per_example: dict[str, dict[str, list[float]]],
) -> tuple[EvalResult, list[Comparison], list[str]]:
    """Put a paired-bootstrap 95% interval on every metric, compare the candidates pairwise, rank them and say the
    verdict; return the result, the comparisons and the ranking.
    """
    from tools.evaluation import bootstrap as bs
    from tools.evaluation import metrics as me

    specs = inp.specs
    stats: dict[str, dict[str, bs.Stat]] = {}
    for name, values in per_example.items():
        stats[name] = {m: bs.mean_stat(v) for m, v in values.items()}
        if prof.labels:
            gold = [me.norm_label(r) for r in refs]
            pred = me.predicted_labels(outputs[name], prof)
            stats[name]["macro_f1"] = bs.labels_f1_stat(pred, gold)
    metric_names = [m for m in prof.names if m in next(iter(stats.values()))]
    n = len(refs)
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
        ranked, scores, comparisons, n, frozenset(name for name, spec in specs.items() if spec.prompted)
    )
    result = EvalResult(
        candidates=[
            CandidateResult(
                name=name,
                spec=str(spec),
                n=n,
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
    gap = gap_closure(result.candidates, metric=inp.target_metric, target=inp.target)
    if gap is not None:
        result = result.model_copy(update={"gap": gap.model_dump(mode="json")})
    return result, comparisons, ranked


def _fit_candidate(
    generator: Generator,
    base: list[list[dict[str, str]]],
    hits: list[list[SearchHit]],
    *,
    system: str | None,
    shots: list[list[dict[str, str]]],
    spec: ModelSpec,
    reserve: int,
) -> tuple[list, dict]:
    """Each example's prompt for this candidate, fitted to the model's window, and what the fitting left out."""
    from tools.serving import clients
    from tools.serving.budget import context_window

    here = clients.local(generator)  # a model whose prompts are rendered and counted here; None for an API
    window = context_window(here.model.config, here.tokenizer) if here is not None else None
    count: Count | None = None
    if window and here is not None:
        count = lambda conv: len(here.tokenizer(here.render(conv), add_special_tokens=False)["input_ids"])
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
