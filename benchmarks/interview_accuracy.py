"""How well the offline interviewer reads goals written by people it has never met: per author, leaving that author
out of the heads' training (leave-one-author-out), beside the rules alone.

    python benchmarks/interview_accuracy.py [--author NAME ...] [--show-misses] [--l2 X] [--interactive]
    python benchmarks/interview_accuracy.py --untouched      # the untouched author, once, with the shipped heads
    python benchmarks/interview_accuracy.py --read FILE      # any labelled goals (yours), with the shipped reader
    python benchmarks/interview_accuracy.py --problem-cv F   # with the step-2 model's out-of-fold readings
    python benchmarks/interview_accuracy.py --problem-cv F --role-cv G   # ... and the role model's
    python benchmarks/interview_accuracy.py --second-reader tests/data/authors/second_reader.jsonl   # label agreement

Each corpus file in tests/data/ is one author (agent/interviewer/train_heads.AUTHORS). For each author the heads
(agent/interviewer/heads.py) are trained on every other author, then that author's goals are read the way
`tunewise plan --non-interactive` reads them: the goal text, then each labelled answer as the reply to its question
(`focus=`), later readings overriding earlier ones as the interview's `absorb` does; what is still unread takes the
interview's assumed default. Expected and read facts are both decided with OpenAI fine-tuning taken as open, so the
score measures reading, not the calendar.

Per author it prints approach and path accuracy, per-fact accuracy, and the confidently-wrong rate: the share of
findings read as `stated` whose value is wrong (unsaid counts as the default; a count of examples that exist but are
not good, which the authors left unlabelled, is not scored). The untouched author (train_heads.UNTOUCHED) is never
trained on; `--untouched` reads it with the shipped heads, which were trained on all the others.

`--interactive` adds, from the same heads, the reading a person gets from `tunewise plan` without
`--non-interactive`: each question the interview asks (a fact unread, or read unsure or two ways, that could change
the recommendation) answered with the author's label, and how many questions that took per goal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.interviewer.train_heads import BAD, LABELS, PRIMARY, CorpusError, expected_facts, load_items  # noqa: E402
from tools.decision import LARGE_DATASET, MIN_GOOD_EXAMPLES, Facts, decide  # noqa: E402
from tools.decision import MODIFIERS as _MODIFIERS  # noqa: E402

DEV = (REPO / "tests" / "data" / "goals_dev.jsonl", REPO / "tests" / "data" / "goals_blind1.jsonl")
MODIFIERS = tuple(_MODIFIERS)
APPROACHES = ("prompt_engineering", "rag", "fine_tune", "fine_tune_rag", "collect_more_data")
TUNED = ("fine_tune", "fine_tune_rag")
SHORT = {
    "prompt_engineering": "prompt",
    "rag": "rag",
    "fine_tune": "ft",
    "fine_tune_rag": "ft+rag",
    "collect_more_data": "collect",
}


def load(path: Path) -> list[dict]:
    """Read the items of a corpus file (agent/interviewer/train_heads.load_items: the heads read the same files)."""
    return load_items(path)


# What a reader returns for one goal: the facts the decision gets, the goal's own reading as the interview stores it,
# and the facts a person was asked for (none unless the interactive flow is simulated).
Reading = tuple[Facts, dict, list[str]]


def read_with(reader: Any, item: dict, *, ask: bool = False) -> Reading:
    """Return the facts read (goal, then answers) and the goal's own reading as the interview stores it; with `ask`,
    also what the interactive flow asked for, each answered with the author's label (ask_as).
    """
    from graphs.interview import absorb

    goal = absorb({}, reader.extract(item["goal"]))
    answers = [(fact, reader.extract(str(a), focus=fact)) for fact, a in (item.get("answers") or {}).items()]
    return _answered(goal, answers, item["labels"] if ask else None)


def _answered(goal: dict, answers: list[tuple[str, list]], person: dict | None = None) -> Reading:
    from graphs.interview import absorb, defaults, known

    facts = dict(goal)
    for fact, found in answers:
        facts.update(absorb(facts, found, asked=fact))
    asked = [] if person is None else ask_as(person, facts)
    return Facts(**{**defaults(), **known(facts)}), goal, asked


def ask_as(labels: dict, facts: dict) -> list[str]:
    """Walk the framework's steps as `tunewise plan` does interactively (graphs.interview.step_move): where a step
    asks for its fact or asks to confirm an unsure reading, the person answers with the author's label (unsaid: the
    field's default), recorded in `facts` as asked. Return the facts asked for, in order.

    The person is ideal: each answer is read as meant, and the confirm list's corrections are not simulated.
    """
    from graphs.interview import step_move
    from tools.decision import STEPS

    status = Facts.model_fields["openai_status"].default
    asked = []
    for _, fact, _ in STEPS:
        _, move = step_move(fact, facts, status)
        if move in ("ask", "confirm"):
            want = labels.get(fact)
            value = Facts.model_fields[fact].default if want is None else want
            facts[fact] = {"value": value, "source": "asked", "evidence": "the person's answer", "confidence": 1.0}
            asked.append(fact)
    return asked


def read_prepared(
    heads: Any, bank: Any = None, *, ask: bool = False, problem: dict | None = None, roles: dict | None = None
) -> Any:
    """Return a reader of prepared goals (agent/interviewer/train_heads.Prepared) that revises with `heads`
    (`bank`: the reader's labelled sentences, which the heads compare with); `ask` as in read_with; `problem`, the
    step-2 model's readings by goal id ({id: {class: p}}), and `roles`, the role model's ({id: {number's start:
    p}}), mixed in as OfflineInterviewer does with its models.
    """
    from agent.interviewer import heads as H
    from agent.interviewer.offline import Finding, measured_by_words, plain
    from graphs.interview import absorb

    def read(p: Any) -> Reading:
        text = plain(p.item["goal"])  # as the reader reads it (offline.plain): the numbers' places are in this text
        found = {f.fact: f for f in p.findings}
        if heads is not None:  # as OfflineInterviewer.extract: the heads revise, then the numbers' verdict outranks
            found = H.revise(
                text,
                found,
                heads,
                p.sentences,
                p.vectors,
                p.numbers,
                p.number_vectors,
                make=Finding,
                bank=bank,
                problem=None if problem is None else problem[p.item["id"]],
                roles=None if roles is None else [roles.get(p.item["id"], {}).get(n.start) for n in p.numbers],
            )
            found = measured_by_words(text, found)
        return _answered(absorb({}, list(found.values())), p.answers, p.item["labels"] if ask else None)

    return read


def stated(item: dict, goal: dict) -> tuple[int, int, int]:
    """Return (findings read as stated, of them wrong, of them on a fact the author left unsaid). Unsaid means the
    default, so a stated default is right and a stated other value wrong; a count of examples that exist but are
    not good, which the brief left unlabelled, is not scored.
    """
    from graphs.interview import problem_fact

    labels = item["labels"]
    n = wrong = unsaid = 0
    for fact in LABELS:
        entry = problem_fact(goal) if fact == "problem" else goal.get(fact)
        if entry is None or entry["source"] != "stated":
            continue
        want = labels.get(fact)
        if fact == "examples" and want is None and labels.get("data_quality") in BAD:
            continue
        truth = Facts.model_fields[fact].default if want is None else want
        n += 1
        unsaid += want is None
        wrong += (bucket(entry["value"]) != bucket(truth)) if fact == "examples" else entry["value"] != truth
    return n, wrong, unsaid


def bucket(examples: int) -> str:
    """Return what the decision makes of a count: too few, enough, or a large (enterprise-scale) dataset."""
    return "few" if examples < MIN_GOOD_EXAMPLES else "large" if examples >= LARGE_DATASET else "enough"


def agrees(fact: str, want: Facts, got: Facts, uncounted: bool) -> bool:
    """Tell whether two readings agree on a fact: a count by what the decision makes of it (any count, where the
    examples exist but are not good and the author gave none).
    """
    a, b = getattr(want, fact), getattr(got, fact)
    return (uncounted or bucket(a) == bucket(b)) if fact == "examples" else a == b


def score(items: list, reader: Any = None, *, read: Any = None, ask: bool = False) -> dict:
    """Every figure the report prints, for one part of the corpus: items read by `reader` (`ask`: as read_with), or
    prepared items read by `read` (read_prepared).
    """
    per_fact: Counter = Counter()
    exact_examples = 0
    confusion: Counter = Counter()
    approach_ok = path_ok = path_n = 0
    misses, label_errors = [], []
    said = [0, 0, 0]
    asked: Counter = Counter()
    for entry in items:
        item = entry if read is None else entry.item
        want = expected_facts(item)
        got, goal, questions = read_with(reader, item, ask=ask) if read is None else read(entry)
        asked.update(questions)
        said = [a + b for a, b in zip(said, stated(item, goal))]
        want_d, got_d = decide(want), decide(got)
        if item.get("approach") and (
            item["approach"] != want_d.approach
            or item["approach"] in TUNED
            and item.get("path") != want_d.path_if_fine_tuning
        ):  # a path matters only when tuning
            label_errors.append(
                f"{item['id']}: labelled {item['approach']}/{item.get('path')}, the facts give "
                f"{want_d.approach}/{want_d.path_if_fine_tuning}"
            )
        expected_approach = item.get("approach") or want_d.approach
        expected_path = item.get("path") or want_d.path_if_fine_tuning
        # Examples that exist but are not good carry no count in the brief (null): any count read for them is right,
        # since the decision collects whatever it is once the quality is read.
        uncounted = item["labels"].get("examples") is None and item["labels"].get("data_quality") in BAD
        for fact in PRIMARY + MODIFIERS:
            per_fact[fact] += agrees(fact, want, got, uncounted)
        exact_examples += want.examples == got.examples
        confusion[(expected_approach, got_d.approach)] += 1
        approach_ok += got_d.approach == expected_approach
        if expected_approach in TUNED:
            path_n += 1
            path_ok += got_d.path_if_fine_tuning == expected_path
        wrong = {
            f: (getattr(want, f), getattr(got, f)) for f in PRIMARY + MODIFIERS if not agrees(f, want, got, uncounted)
        }
        if (
            got_d.approach != expected_approach
            or expected_approach in TUNED
            and got_d.path_if_fine_tuning != expected_path
        ):
            misses.append(
                (item["id"], expected_approach, got_d.approach, expected_path, got_d.path_if_fine_tuning, wrong)
            )
    n = len(items)
    return {
        "n": n,
        "per_fact": {f: per_fact[f] / n for f in PRIMARY + MODIFIERS},
        "examples_exact": exact_examples / n,
        "confusion": confusion,
        "approach_accuracy": approach_ok / n,
        "path_accuracy": path_ok / path_n if path_n else None,
        "path_n": path_n,
        "misses": misses,
        "label_errors": label_errors,
        "stated": said[0],
        "stated_wrong": said[1],
        "stated_unsaid": said[2],
        "asked": asked,
    }


def report(name: str, result: dict, *, show_misses: bool = False) -> None:
    print(f"\n== {name}: {result['n']} items ==")
    print("per-fact accuracy (examples: the same decision bucket <50 / 50-9,999 / 10,000+):")
    for fact, acc in result["per_fact"].items():
        print(f"  {fact:<15} {acc:.3f}")
    print(f"  {'examples exact':<15} {result['examples_exact']:.3f}")
    print("approach confusion (rows: expected, columns: read):")
    print("  " + " " * 10 + "".join(f"{SHORT[a]:>9}" for a in APPROACHES))
    for want in APPROACHES:
        print(f"  {SHORT[want]:<10}" + "".join(f"{result['confusion'][(want, got)]:>9}" for got in APPROACHES))
    print(f"approach accuracy: {result['approach_accuracy']:.3f}")
    path = result["path_accuracy"]
    print(
        f"path accuracy:     {'n/a' if path is None else f'{path:.3f}'} (over {result['path_n']} items that fine-tune)"
    )
    for line in result["label_errors"]:
        print(f"  LABEL ERROR {line}")
    if show_misses:
        for id_, wa, ga, wp, gp, wrong in result["misses"]:
            print(f"  miss {id_}: approach {wa} -> {ga}, path {wp} -> {gp}; facts (want, read): {wrong}")


def loao(
    corpus: dict[str, list],
    bank: Any,
    l2: float | None = None,
    only: list[str] | None = None,
    jobs: int = 1,
    keep: Path | None = None,
) -> dict[str, Any]:
    """For each author (of `only`, if given), heads trained on every other author: the heads its goals are read with
    (`jobs` folds at a time, each in a process of its own). With `keep`, each fold's heads are written there as soon
    as they are trained, and a fold already there for the same training material is read instead of retrained: a
    run of forty folds that stops halfway loses nothing.
    """
    authors = list(only or corpus)
    keys = fold_keys(corpus, authors, l2, bank) if keep is not None else {}
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    if jobs <= 1 or len(authors) < 2:
        _fold_setup(corpus, bank, l2, 0, keep, keys)
        return {author: _fold(author) for author in authors}
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(
        jobs,
        mp_context=get_context("spawn"),
        initializer=_fold_setup,
        initargs=(corpus, bank, l2, threads, keep, keys),
    ) as pool:
        return dict(zip(authors, pool.map(_fold, authors)))


def fold_keys(corpus: dict[str, list], authors: list[str], l2: float | None, bank: Any = None) -> dict[str, str]:
    """Name each author's fold by what its heads are trained from: the other authors' goals, labels and answers, the
    rules' readings of them and their vectors (a change to the rules or the embedder changes these), the labelled
    sentences' vectors (`bank`), the ridge, and the heads' code. A kept fold is reused only under the same name, so
    it is never stale.
    """
    import hashlib

    import numpy as np

    from agent.interviewer import heads, train_heads

    code = hashlib.sha256()
    for module in (heads, train_heads):
        code.update(Path(module.__file__ or "").read_bytes())
    code.update(repr(l2).encode())
    for group, label in heads.BANK:
        rows = (bank or {}).get(group)
        rows = rows.get(label) if isinstance(rows, dict) else rows
        code.update(f"{group}/{label}".encode() + np.asarray(rows if rows is not None else [], np.float32).tobytes())
    goal = {}
    for name, items in corpus.items():
        h = hashlib.sha256(name.encode())
        for p in items:
            h.update(json.dumps(p.item, sort_keys=True, default=str).encode())
            h.update(repr((p.findings, p.sentences, p.numbers, p.answers)).encode())
            h.update(p.vectors.tobytes())
            h.update(p.number_vectors.tobytes())
        goal[name] = h.hexdigest()
    keys = {}
    for author in authors:
        h = code.copy()
        for name in corpus:
            if name != author:
                h.update(goal[name].encode())
        keys[author] = h.hexdigest()[:16]
    return keys


_FOLDS: dict[str, Any] = {}  # what each fold trains from: the corpus, the bank, the ridge, where folds are kept


def _fold_setup(
    corpus: dict[str, list], bank: Any, l2: float | None, threads: int, keep: Path | None, keys: dict[str, str]
) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)  # the folds share the CPU's cores
    _FOLDS.update(corpus=corpus, bank=bank, l2=l2, keep=keep, keys=keys)


def _fold(author: str) -> Any:
    from agent.interviewer import train_heads
    from agent.interviewer.heads import Heads

    corpus, l2, keep = _FOLDS["corpus"], _FOLDS["l2"], _FOLDS["keep"]
    kept = None if keep is None else keep / f"{author}-{_FOLDS['keys'][author]}.npz"
    if kept is not None and kept.is_file():
        return Heads.load(kept)
    others = [p for name, rest in corpus.items() if name != author for p in rest]
    heads = train_heads.train(others, _FOLDS["bank"], train_heads.L2 if l2 is None else l2)
    if kept is not None:
        heads.save(kept)  # through a temporary file: a fold cut off mid-write leaves nothing to reuse
    return heads


def table(title: str, results: dict[str, dict], baseline: dict[str, dict] | None = None) -> None:
    """One line per author, and the pooled figures."""
    print(f"\n== {title} ==")
    facts = ("prompting", "problem", "examples", "data_quality", "stable", "private")
    head = f"  {'author':<12}{'n':>4}{'approach':>10}{'path':>8}{'stated':>8}{'wrong':>7}"
    asks = any(r["asked"] for r in results.values())
    head += "".join(f"{f[:8]:>9}" for f in facts) + ("     asks" if asks else "")
    head += "   rules alone: approach / path" if baseline else ""
    print(head)
    for author, r in results.items():
        rate = r["stated_wrong"] / r["stated"] if r["stated"] else 0.0
        path = "n/a" if r["path_accuracy"] is None else f"{r['path_accuracy']:.3f}"
        line = f"  {author:<12}{r['n']:>4}{r['approach_accuracy']:>10.3f}{path:>8}{r['stated']:>8}{rate:>7.1%}"
        line += "".join(f"{r['per_fact'][f]:>9.3f}" for f in facts)
        line += f"{sum(r['asked'].values()) / r['n']:>9.2f}" if asks else ""
        if baseline:
            b = baseline[author]
            bpath = "n/a" if b["path_accuracy"] is None else f"{b['path_accuracy']:.3f}"
            line += f"   {b['approach_accuracy']:.3f} / {bpath}"
        print(line)
    n = sum(r["n"] for r in results.values())
    path_n = sum(r["path_n"] for r in results.values())
    approach = sum(r["approach_accuracy"] * r["n"] for r in results.values()) / n
    path_ok = sum((r["path_accuracy"] or 0) * r["path_n"] for r in results.values())
    said = sum(r["stated"] for r in results.values())
    wrong = sum(r["stated_wrong"] for r in results.values())
    unsaid = sum(r["stated_unsaid"] for r in results.values())
    print(
        f"  pooled: approach {approach:.3f} over {n} goals, path {path_ok / path_n if path_n else 0:.3f} over "
        f"{path_n} that fine-tune; confidently wrong {wrong}/{said} stated findings ({wrong / said if said else 0:.1%}),"
        f" {unsaid} stated findings were on a fact the author left unsaid (right where they read its default)"
    )
    if asks:
        by_fact: Counter = sum((r["asked"] for r in results.values()), Counter())
        each = ", ".join(f"{fact} {k / n:.2f}" for fact, k in by_fact.most_common())
        print(f"  questions a person answered: {by_fact.total() / n:.2f} per goal ({each})")
    worst = min(results.items(), key=lambda kv: kv[1]["approach_accuracy"])
    print(f"  lowest author: {worst[0]} approach {worst[1]['approach_accuracy']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--untouched", action="store_true", help="read the untouched author once, with the shipped heads"
    )
    parser.add_argument(
        "--read",
        action="append",
        type=Path,
        metavar="FILE",
        help="read a labelled goal file (one JSON object per line: id, goal, labels) with the shipped heads and "
        "models, as `tunewise plan` reads: a set nobody trained on, such as your own goals",
    )
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="read the --author sets with the shipped heads: a new author's first reading, before training on it",
    )
    parser.add_argument("--author", action="append", help="limit the report to these authors (training still uses all)")
    parser.add_argument("--show-misses", action="store_true", help="list each goal read to a wrong approach or path")
    parser.add_argument("--l2", type=float, default=None, help="the heads' ridge (default: train_heads.L2)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="read the corpora and train the folds in this many processes"
    )
    parser.add_argument(
        "--keep-folds",
        type=Path,
        metavar="DIR",
        help="write each fold's heads to DIR as it is trained, and reuse the ones there that were trained from the "
        "same goals, readings, code and ridge (a stopped run resumes where it stopped)",
    )
    parser.add_argument(
        "--interactive",
        action="store_true",
        help="read as the interactive flow does: each question it asks (unread or unsure facts that could change the "
        "recommendation) answered with the author's label; prints the questions asked per goal",
    )
    parser.add_argument(
        "--problem-cv",
        type=Path,
        metavar="FILE",
        help="mix in the step-2 model's out-of-fold readings (python -m agent.interviewer.train_problem_model --cv 5 "
        "--cv-out FILE): each author read by a model trained without that author's group",
    )
    parser.add_argument(
        "--role-cv",
        type=Path,
        metavar="FILE",
        help="mix in the role model's out-of-fold readings (python -m agent.interviewer.train_role_model --cv 5 "
        "--cv-out FILE): which number counts the examples, each author read by a model trained without its group",
    )
    parser.add_argument(
        "--second-reader",
        type=Path,
        metavar="FILE",
        help="how far the authors' labels agree with a second person's labels of the same goals (id, labels per line)",
    )
    args = parser.parse_args(argv)
    if args.second_reader:
        return agreement(args.second_reader)
    if args.keep_folds is not None:  # checked before an hour of reading and training, not after
        try:
            args.keep_folds.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            print(
                f"error: --keep-folds {args.keep_folds}: {e.strerror}; give a folder you can write to", file=sys.stderr
            )
            return 2
    from agent.interviewer import heads as H
    from agent.interviewer import train_heads

    unknown = [a for a in args.author or [] if a not in train_heads.AUTHORS]
    if unknown:
        print(
            f"error: no author {', '.join(unknown)}; the authors are {', '.join(train_heads.AUTHORS)}", file=sys.stderr
        )
        return 2
    for path in [*train_heads.AUTHORS.values(), train_heads.UNTOUCHED[1], *(args.read or [])]:
        try:
            load(path)
        except CorpusError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    problem = None
    if args.problem_cv is not None:  # checked before the corpus is read and the folds trained, not after
        try:
            problem = problem_readings(args.problem_cv)
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: --problem-cv {args.problem_cv}: {_one_line(e)}", file=sys.stderr)
            return 2
        wanted = [a for a in args.author or train_heads.AUTHORS]
        missing = [a for a in wanted if {i["id"] for i in load(train_heads.AUTHORS[a])} - problem.get(a, {}).keys()]
        if missing:
            print(
                f"error: --problem-cv {args.problem_cv} has no reading of goals by {', '.join(missing)}: it was made "
                "from other corpora; make it again with python -m agent.interviewer.train_problem_model --cv 5 "
                "--cv-out FILE",
                file=sys.stderr,
            )
            return 2
    roles = None
    if args.role_cv is not None:
        try:
            roles = role_readings(args.role_cv)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            print(f"error: --role-cv {args.role_cv}: {_one_line(e)}", file=sys.stderr)
            return 2
        missing = [a for a in args.author or train_heads.AUTHORS if a not in roles]
        if missing:
            print(
                f"error: --role-cv {args.role_cv} has no reading of goals by {', '.join(missing)}: it was made from "
                "other corpora; make it again with python -m agent.interviewer.train_role_model --cv 5 --cv-out FILE",
                file=sys.stderr,
            )
            return 2
    rules_reader = train_heads.reader()
    bank = rules_reader.load_bank()
    if args.untouched:
        name, path = train_heads.UNTOUCHED
        corpus = train_heads.prepare_all({name: path}, rules_reader)
        title = f"the untouched author, read once with the shipped heads (trained on {len(train_heads.AUTHORS)} others)"
        return _report(title, corpus, {name: H.Heads.load()}, bank, args, *shipped_readings(corpus))
    if args.read:
        named = {path.stem: path for path in args.read}
        corpus = train_heads.prepare_all(named, rules_reader, args.jobs)
        shipped = H.Heads.load()
        title = (
            f"{', '.join(named)}, read with the shipped heads and models (trained on {len(train_heads.AUTHORS)} sets)"
        )
        return _report(title, corpus, {a: shipped for a in corpus}, bank, args, *shipped_readings(corpus))
    if args.shipped:
        named = {a: train_heads.AUTHORS[a] for a in args.author or []}
        corpus = train_heads.prepare_all(named, rules_reader, args.jobs)
        shipped = H.Heads.load()
        return _report(
            "first reading with the shipped heads",
            corpus,
            {a: shipped for a in corpus},
            bank,
            args,
            *shipped_readings(corpus),
        )
    print(
        "reader: the offline interviewer (rules, MiniLM similarity, then the heads); each author's goals are read with"
    )
    print("heads trained on the other authors only (leave-one-author-out), beside the rules alone")
    corpus = train_heads.prepare_all(train_heads.AUTHORS, rules_reader, args.jobs)
    heads = loao(corpus, bank, args.l2, args.author, args.jobs, args.keep_folds)
    if args.author:
        corpus = {a: items for a, items in corpus.items() if a in args.author}
    if problem is not None:
        print("step 2 also read by the fine-tuned model, each author by the one trained without its author group")
    if roles is not None:
        print("numbers' roles also read by the fine-tuned role model, each author by the one trained without its group")
    return _report("leave one author out", corpus, heads, bank, args, problem, roles)


def problem_readings(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Read train_problem_model's out-of-fold readings: {author: {goal id: {class: p}}}."""
    data = json.loads(path.read_text("utf-8"))
    classes = data["classes"]
    return {
        author: {gid: dict(zip(classes, p)) for gid, p in goals.items()} for author, goals in data["readings"].items()
    }


def role_readings(path: Path) -> dict[str, dict[str, dict[int, float]]]:
    """Read train_role_model's out-of-fold readings: {author: {goal id: {number's start: p}}}."""
    data = json.loads(path.read_text("utf-8"))
    return {
        author: {gid: {int(start): float(p) for start, p in found.items()} for gid, found in goals.items()}
        for author, goals in data["readings"].items()
    }


def shipped_readings(corpus: dict[str, list]) -> tuple[dict | None, dict | None]:
    """Return the shipped step-2 and role models' readings of a corpus by author and goal id (None for a model that
    does not ship), as the reader reads.
    """
    from agent.interviewer import problem_model, role_model
    from agent.interviewer.offline import plain

    problem = roles = None
    if problem_model.shipped():
        model = problem_model.ProblemModel.load(problem_model.base_folder())
        problem = {
            a: {p.item["id"]: model.probabilities(plain(p.item["goal"])) for p in items} for a, items in corpus.items()
        }
    if role_model.shipped():
        reader = role_model.RoleModel.load(problem_model.base_folder())
        roles = {
            a: {
                p.item["id"]: dict(
                    zip(
                        (n.start for n in p.numbers),
                        reader.roles(plain(p.item["goal"]), [(n.start, n.end) for n in p.numbers]),
                    )
                )
                for p in items
            }
            for a, items in corpus.items()
        }
    return problem, roles


def _report(
    title: str,
    corpus: dict[str, list],
    heads: dict[str, Any],
    bank: Any,
    args: argparse.Namespace,
    problem: dict[str, dict] | None = None,
    roles: dict[str, dict] | None = None,
) -> int:
    """Print each author's reading by its heads (with `problem` and `roles`, the step-2 and role models' readings by
    author and goal id) beside the rules alone, then, with --interactive, the same heads' reading when the interactive flow's questions
    are answered.
    """
    for ask in (False, True) if args.interactive else (False,):
        results = {
            a: score(
                items,
                read=read_prepared(
                    heads[a],
                    bank,
                    ask=ask,
                    problem=None if problem is None else problem[a],
                    roles=None if roles is None else roles.get(a, {}),
                ),
            )
            for a, items in corpus.items()
        }
        rules = {a: score(items, read=read_prepared(None, ask=ask)) for a, items in corpus.items()}
        table(f"{title}, {'interactive: each question answered' if ask else 'non-interactive'}", results, rules)
        if not ask:  # the label errors and the misses once, for the reading the targets are set on
            _misses(results, args.show_misses)
    return 0


def agreement(path: Path) -> int:
    """Print how often a second reader's labels give the author's approach and facts: the ceiling a reader can reach."""
    from agent.interviewer import train_heads

    second: dict[str, Facts] = {}
    try:
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            try:
                if line.strip():
                    row = json.loads(line)
                    second[row["id"]] = expected_facts({"labels": row["labels"]})
            except (ValueError, KeyError, TypeError) as e:
                why = _one_line(e)
                print(
                    f"error: {path}:{n}: {why}; write one object per line: an 'id' of a corpus goal and its 'labels'",
                    file=sys.stderr,
                )
                return 2
        by_id = {i["id"]: i for p in train_heads.AUTHORS.values() for i in load(p) if i["id"] in second}
    except (OSError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    same: Counter = Counter()
    for id_, item in by_id.items():
        a, b = expected_facts(item), second[id_]
        bad = item["labels"].get("data_quality") in BAD
        for fact in PRIMARY:
            same[fact] += agrees(fact, a, b, bad)
        same["approach"] += decide(a).approach == decide(b).approach
    n = len(by_id)
    print(f"second reader: {n} goals of {len({i.split('-')[0] for i in by_id})} authors, labelled again blind")
    for key, count in same.items():
        print(f"  {key:<15} {count / n:.3f}")
    return 0


def _one_line(e: Exception) -> str:
    """Return an error as one line: a validation error as its fields and messages, not pydantic's block."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errors())
    return f"missing {e}" if isinstance(e, KeyError) else str(e)


def _misses(results: dict[str, dict], show: bool) -> None:
    for author, r in results.items():
        for line in r["label_errors"]:
            print(f"  LABEL ERROR {author} {line}")
        if show:
            for id_, wa, ga, wp, gp, wrong in r["misses"]:
                print(f"  miss {id_}: approach {wa} -> {ga}, path {wp} -> {gp}; facts (want, read): {wrong}")


if __name__ == "__main__":
    raise SystemExit(main())
