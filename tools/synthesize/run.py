"""`tunewise synthesize`: more training examples from a few good ones, priced before it runs, paid for once.

1. Freeze the held-out split first (tools/dataset/split.py, the plan's size): the teacher never sees it, and a draft
   that resembles it is dropped.
2. The teacher drafts new requests, call by call, each call shown a few seeds of one topic (and a document excerpt).
3. The teacher answers each request in the seeds' format, seeds as worked examples.
4. and 5. `validate`'s checks, then duplicates and near-duplicates out (tools/synthesize/screen.py).
6. The judge scores the rest against a rubric built from the seeds; a score at the threshold or above passes.
7. Every kept draft goes to review.jsonl and review.html with its provenance; only drafts a person accepts reach the
   training file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial
from pathlib import Path
from typing import Any

from tools.errors import TunewiseError, UsageError
from tools.models.spec import parse_spec
from tools.progress import Progress, Update, silent
from tools.synthesize.schema import Counts, SynthInput, SynthResult

MIN_TRAIN_SEEDS = 5  # fewer seeds show too little of the task to draft from
REQUEST_TEMPERATURE = 0.9  # varied requests
ANSWER_TEMPERATURE = 0.7
JUDGE_TEMPERATURE = 0.0


def prepare(inp: SynthInput, folder: Path) -> tuple[list[Any], Any]:
    """Freeze the held-out split in `folder` and read the training seeds; nothing is sent anywhere. Return (seeds,
    split).
    """
    from tools.costs.plan_costs import eval_count
    from tools.dataset.formats import load_examples
    from tools.dataset.split import SplitInput
    from tools.dataset.split import run as split
    from tools.synthesize.seeds import load_seeds

    if not inp.seeds.is_file():
        raise UsageError("seeds file not found", path=str(inp.seeds), hint="give the chat JSONL of your good examples")
    if inp.out.resolve() == inp.seeds.resolve():
        raise UsageError("--out is the seeds file", path=str(inp.out), hint="write the training file elsewhere")
    total = len(load_examples(inp.seeds))
    held = inp.held_out or eval_count(total)
    if total - held < MIN_TRAIN_SEEDS:
        raise UsageError(
            f"{total} seeds leave {max(0, total - held)} to draft from after {held} are held out; at least "
            f"{MIN_TRAIN_SEEDS} are needed",
            path=str(inp.seeds),
            hint="add good examples, or hold out fewer with --held-out",
        )
    parts = split(SplitInput(path=inp.seeds, eval=held, out=folder), embedder=None)
    seeds = load_seeds(Path(parts.train_path), inp.seeds)
    return seeds, parts


def estimate(inp: SynthInput) -> Any:
    """Return the run's price bound (tools/synthesize/price.py) on the training seeds, writing nothing: the split is
    made in a temporary folder (it is deterministic, so the run's own split holds the same seeds).
    """
    import tempfile

    from tools.synthesize.price import price

    with tempfile.TemporaryDirectory() as tmp:
        seeds, _ = prepare(inp, Path(tmp))
    return price(seeds, inp.n, inp.per_call, teacher=inp.teacher, judge=inp.judge_spec, docs=inp.docs is not None)


def run(inp: SynthInput, *, load: Any, approved_usd: float | None, progress: Progress | None = None) -> SynthResult:
    """Draft, check, de-duplicate and judge `inp.n` examples; write the review files and the training file.

    `load(spec)` builds a generator for a model spec (tools/builders.generator_loader), called only when a reply is
    missing from the kept ones. `approved_usd` is what the person approved: a run whose bound is higher does not
    start, and one whose calls cost more stops before the next batch.
    """
    from tools.atomic import write_json
    from tools.synthesize import draft, judge, review
    from tools.synthesize.kept import OverBudget, Spend, generate_kept
    from tools.synthesize.price import answer_tokens_cap, price, prices
    from tools.synthesize.screen import screen
    from tools.synthesize.seeds import shape, system_prompt

    progress = progress or silent
    seeds, parts = prepare(inp, inp.work / "split")
    bound = price(seeds, inp.n, inp.per_call, teacher=inp.teacher, judge=inp.judge_spec, docs=inp.docs is not None)
    if approved_usd is not None and bound.total_usd > approved_usd + 1e-9:
        raise TunewiseError(
            f"this synthesis may cost up to ${bound.total_usd:.2f}, more than the ${approved_usd:.2f} approved",
            hint="approve the new price, or draft fewer examples with --n",
        )
    teacher_prices, judge_prices = prices(inp.teacher)[:2], prices(inp.judge_spec)[:2]
    spend = Spend(approved_usd=approved_usd)
    replies = inp.work / "replies"
    loaded: dict[str, Any] = {}

    def loader(spec: str) -> Any:
        def build() -> Any:
            if spec not in loaded:
                loaded[spec] = load(parse_spec(spec))
            return loaded[spec]

        return build

    req_tokens = max(16, round(sum(len(s.request.split()) for s in seeds) / len(seeds) * 2))
    calls = draft.request_calls(seeds, inp.n, inp.per_call, draft.excerpts(inp.docs), inp.seed)
    kept = partial(generate_kept, folder=replies, spend=spend, progress=progress)
    try:
        got = kept(
            "draft requests",
            inp.teacher,
            loader(inp.teacher),
            [c for c, _ in calls],
            max_new_tokens=min(4096, inp.per_call * (req_tokens + 20)),
            temperature=REQUEST_TEMPERATURE,
            prices=teacher_prices,
        )
        requests: list[draft.Request] = []
        for call, ((conv, picked), reply) in enumerate(zip(calls, got)):
            for text in draft.parse_requests(reply.text):
                requests.append(draft.Request(text, tuple(s.id for s in picked), draft.prompt_hash(conv), call))
        requests = requests[: inp.n]
        system = system_prompt(seeds)
        cap = answer_tokens_cap(seeds)
        answers = kept(
            "draft answers",
            inp.teacher,
            loader(inp.teacher),
            [draft.answer_conversation(r.text, calls[r.call][1], system) for r in requests],
            max_new_tokens=cap,
            temperature=ANSWER_TEMPERATURE,
            prices=teacher_prices,
        )
        rows: list[dict | None] = []
        cut: dict[int, str] = {}
        for j, (r, a) in enumerate(zip(requests, answers)):
            if a.finish_reason == "length":
                cut[j] = f"the answer was cut off at {cap} tokens"
            rows.append(draft.draft_row(r.text, a.text.strip(), system) if a.text.strip() and j not in cut else None)
        held_lines = [x for x in Path(parts.eval_path).read_text("utf-8").splitlines() if x.strip()]
        pool_lines = [x for x in Path(parts.train_path).read_text("utf-8").splitlines() if x.strip()]
        fates = screen(held_lines, pool_lines, rows, inp.work).dropped if rows else []
        fates = [("valid", cut[j]) if j in cut else f for j, f in enumerate(fates)]
        survivors = [j for j, f in enumerate(fates) if f is None]
        look = shape(seeds)
        verdicts = kept(
            "judge",
            inp.judge_spec,
            loader(inp.judge_spec),
            [
                judge.judge_conversation(requests[j].text, _answer(rows[j]), look, calls[requests[j].call][1])
                for j in survivors
            ],
            max_new_tokens=judge.JUDGE_NEW_TOKENS,
            temperature=JUDGE_TEMPERATURE,
            prices=judge_prices,
        )
    except OverBudget:
        raise TunewiseError(
            f"stopped before going past the ${approved_usd:.2f} approved (${spend.usd:.2f} spent so far)",
            hint="every reply so far is kept: approve a higher price and run the same command again",
        ) from None
    dropped: dict[str, int] = {}
    for f in fates:
        if f is not None:
            kind = f[1].split(":")[0] if f[0] == "valid" else _dropped_as(f[1])
            dropped[kind] = dropped.get(kind, 0) + 1
    kept_rows: list[dict] = []
    passed = 0
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for j, verdict in zip(survivors, verdicts):
        score, reason = judge.parse_score(verdict.text)
        if score is None or score < inp.threshold:
            key = "judge reply unreadable" if score is None else f"judge score below {inp.threshold}"
            dropped[key] = dropped.get(key, 0) + 1
            continue
        passed += 1
        r = requests[j]
        shown = calls[r.call][1]
        nearest = max(shown, key=lambda s: _overlap(s.request, r.text))
        row = rows[j]
        assert row is not None  # survivors are real drafts
        kept_rows.append(
            {
                "id": "d" + hashlib.sha256(r.text.encode()).hexdigest()[:10],
                "status": "pending",
                "messages": row["messages"],
                "seed": {"id": nearest.id, "messages": nearest.messages},
                "provenance": {
                    "teacher": inp.teacher,
                    "judge": inp.judge_spec,
                    "prompt_hash": r.prompt_hash,
                    "seed_ids": list(r.seed_ids),
                    "score": score,
                    "reason": reason,
                    "threshold": inp.threshold,
                    "created": created,
                },
            }
        )
    review_jsonl = inp.work / "review.jsonl"
    kept_rows = review.merge_decisions(kept_rows, review_jsonl)
    review.write_rows(review_jsonl, kept_rows)
    train_seeds = inp.work / "train_seeds.jsonl"
    train_seeds.write_text(Path(parts.train_path).read_text("utf-8"), "utf-8")
    held_file = inp.work / "held_out.jsonl"
    held_file.write_text(Path(parts.eval_path).read_text("utf-8"), "utf-8")
    accepted = review.write_training(inp.out, train_seeds, kept_rows)
    statuses = review.counts_of(kept_rows)
    counts = Counts(
        drafted=len(requests),
        valid=sum(1 for f in fates if f is None or f[0] != "valid"),
        unique=len(survivors),
        passed_judge=passed,
        accepted=accepted,
    )
    notes = []
    if not requests:
        notes.append(
            f"the teacher's {len(calls)} replies held no requests (each should be one JSON array of strings): "
            f"check that {inp.teacher} follows instructions"
        )
    elif len(requests) < inp.n:
        notes.append(f"the teacher drafted {len(requests)} of the {inp.n} requests asked for")
    if inp.judge is None and requests:
        notes.append("the teacher judged its own drafts (no --judge): a judge shares its teacher's blind spots")
    result = SynthResult(
        counts=counts,
        cost_usd=round(spend.usd, 4),
        estimated_usd=bound.total_usd,
        teacher=inp.teacher,
        judge=inp.judge_spec,
        seeds=len(seeds),
        held_out=len(held_lines),
        held_out_file=str(held_file),
        train_seeds_file=str(train_seeds),
        review_html=str(inp.work / "review.html"),
        review_jsonl=str(review_jsonl),
        out=str(inp.out),
        pending=statuses["pending"],
        calls_paid=spend.paid,
        calls_kept=spend.kept,
        dropped=dropped,
        notes=notes,
    )
    review.write_html(
        inp.work / "review.html", kept_rows, counts.model_dump(), f"Drafts to review: {inp.out.name}", dropped
    )
    write_json(inp.work / review.MANIFEST, {"input": inp.model_dump(mode="json"), "result": result.model_dump()})
    progress(Update(stage="review", message=f"{passed} drafts to review in {review_jsonl}"))
    return result


def _dropped_as(reason: str) -> str:
    """Name a de-duplication reason's kind, as the counts report it."""
    if "other names or numbers" in reason:
        return "template"
    return "duplicate" if "same request" in reason else "near-duplicate"


def _answer(row: dict | None) -> str:
    assert row is not None
    return str(row["messages"][-1]["content"])


def _overlap(a: str, b: str) -> float:
    x, y = set(a.lower().split()), set(b.lower().split())
    return len(x & y) / max(1, len(x | y))
