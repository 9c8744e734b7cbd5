"""`tunewise split`: a held-out eval set that shares no duplicate or near-duplicate with the training set."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.defaults import DEFAULT_FINE_TUNE_MODEL
from tools.errors import TunewiseError, UsageError

CLUSTER = "cluster"  # --stratify-by value that stratifies by the first user turn's topic cluster


class SplitInput(BaseModel):
    """One `tunewise split`: the file, the held-out size, the output folder, the seed, what to stratify by and the
    tokenizer that finds near-duplicates.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="Validated training file to split.")
    eval: float = Field(description="Held-out size: a count (>= 1) or a fraction of the examples (< 1).", gt=0)
    out: Path = Field(description="Folder for train.jsonl, eval.jsonl and split.json.")
    seed: int = Field(default=42, description="Same seed and file, same split.")
    stratify_by: str | None = Field(
        default=None,
        description=f"A metadata field to stratify by, or '{CLUSTER}' for the first user turn's topic cluster.",
    )
    model: str = Field(default=DEFAULT_FINE_TUNE_MODEL, description="Tokenizer used to find near-duplicates.")


class SplitResult(BaseModel):
    """The split written: both files and their sizes, the duplicate clusters kept whole, eval examples per stratum
    and the seed.
    """

    model_config = ConfigDict(frozen=True)
    train_path: str
    eval_path: str
    train_examples: int
    eval_examples: int
    groups: int = Field(
        description="Clusters of duplicates / near-duplicates / same-prompt examples, each kept on one side."
    )
    grouped_examples: int = Field(description="Examples that share a cluster with another example.")
    strata: dict[str, int] = Field(description="Eval examples per stratum.")
    seed: int


def _records(path: Path) -> dict[int, str]:
    """Line -> the record as one JSONL line (JSON arrays are rewritten as JSONL)."""
    from tools.dataset.formats import is_json_array, iter_json_array, iter_raw_lines

    if is_json_array(path):
        return {line: json.dumps(rec, ensure_ascii=False) for line, rec in iter_json_array(path)}
    return {line: raw.decode("utf-8").rstrip("\r\n") for line, raw in iter_raw_lines(path) if raw.strip()}


def _write_lines(path: Path, valid: set[int], eval_lines: set[int], train_path: Path, eval_path: Path) -> None:
    """Copy each valid line of a JSONL file to the train or the eval file, as written (line ending normalised)."""
    from tools.atomic import atomic_open
    from tools.dataset.formats import iter_raw_lines

    with atomic_open(train_path, "wb") as tr, atomic_open(eval_path, "wb") as ev:
        for line, raw in iter_raw_lines(path):
            if line in valid:
                (ev if line in eval_lines else tr).write(raw.rstrip(b"\r\n") + b"\n")


def _strata(records: dict[int, str], lines: list[int], field: str | None, seed: int, embedder: Any) -> dict[int, str]:
    if field is None:
        return {line: "all" for line in lines}
    if field == CLUSTER:
        if embedder is None:
            raise UsageError("--stratify-by cluster needs the local embedder", hint='pip install "tunewise[rag]"')
        return _topic_clusters(records, lines, seed, embedder)
    out = {}
    for line in lines:
        meta = json.loads(records[line]).get("metadata") or {}
        out[line] = str(meta.get(field, "(none)")) if isinstance(meta, dict) else "(none)"
    return out


def _topic_clusters(records: dict[int, str], lines: list[int], seed: int, embedder: Any) -> dict[int, str]:
    """Cluster the examples by k-means over `embedder`'s vectors of each one's first user turn."""
    import numpy as np

    from tools.dataset.formats import detect_format, to_messages

    texts = []
    for line in lines:
        rec = json.loads(records[line])
        msgs = to_messages(rec, detect_format(rec) or "chat")
        texts.append(next((m["content"] for m in msgs if m["role"] == "user"), "")[:2000])
    vectors = embedder.embed(texts)
    k = max(2, min(20, int(len(texts) ** 0.5 / 2)))
    rng = np.random.default_rng(seed)
    centres = vectors[rng.choice(len(vectors), size=min(k, len(vectors)), replace=False)]
    for _ in range(20):
        labels = np.argmax(vectors @ centres.T, axis=1)
        for c in range(len(centres)):
            members = vectors[labels == c]
            if len(members):
                centre = members.mean(axis=0)
                centres[c] = centre / (np.linalg.norm(centre) or 1.0)
    return {line: f"cluster-{int(label)}" for line, label in zip(lines, labels)}


def run(inp: SplitInput, *, embedder: Any) -> SplitResult:
    """Split a training file into train and held-out eval sets, keeping near-duplicates together so nothing leaks."""
    from tools.atomic import atomic_open, write_json
    from tools.dataset import quality
    from tools.dataset.validate import ValidateInput, collect
    from tools.digest import file_sha256

    fmt, scan = collect(ValidateInput(path=inp.path, model=inp.model, hosted=False))
    errors = sum(n for (sev, _), n in scan.counts.items() if sev == "error")
    if errors:
        raise TunewiseError(
            f"the file has {errors} validation error(s)",
            path=str(inp.path),
            hint="run `tunewise validate` and fix them before splitting",
        )
    n = len(scan.ex_line)
    target = int(inp.eval) if inp.eval >= 1 else round(inp.eval * n)
    if not 1 <= target < n:
        raise UsageError(
            f"--eval {inp.eval:g} asks for {target} of {n} examples",
            hint="leave at least one example on each side",
        )
    cluster_of = quality.related_groups(scan)
    lines = list(scan.ex_line)
    from tools.dataset.formats import is_json_array

    # The records are held in memory only when they are needed: to stratify by a field or a topic, or to rewrite a
    # JSON array as JSONL. Otherwise the file is streamed a second time, line by line, as it is written out.
    records = _records(Path(inp.path)) if inp.stratify_by is not None or is_json_array(Path(inp.path)) else None
    stratum = _strata(records, lines, inp.stratify_by, inp.seed, embedder) if records is not None else {}

    groups: dict[int, list[int]] = defaultdict(list)
    for idx, root in enumerate(cluster_of.tolist()):
        groups[root].append(lines[idx])
    by_stratum: dict[str, list[list[int]]] = defaultdict(list)
    for members in groups.values():
        by_stratum[stratum.get(members[0], "all")].append(members)
    rng = random.Random(inp.seed)
    eval_lines: set[int] = set()
    strata_counts: dict[str, int] = {}
    # Each stratum gets its proportional share; whole groups move, so a stratum may overshoot by one group.
    for name in sorted(by_stratum):
        bucket = sorted(by_stratum[name])
        rng.shuffle(bucket)
        size = sum(len(g) for g in bucket)
        quota = round(target * size / n)
        taken = 0
        for members in sorted(bucket, key=len):  # singletons first: big clusters rarely fit a held-out quota
            if taken >= quota:
                break
            if taken + len(members) <= quota or taken == 0:
                eval_lines.update(members)
                taken += len(members)
        strata_counts[name] = taken
    out = Path(inp.out)
    train_path, eval_path = out / "train.jsonl", out / "eval.jsonl"
    if records is not None:
        with atomic_open(train_path) as tr, atomic_open(eval_path) as ev:
            for line in lines:
                (ev if line in eval_lines else tr).write(records[line] + "\n")
    else:
        _write_lines(Path(inp.path), set(lines), eval_lines, train_path, eval_path)
    grouped = sum(len(g) for g in groups.values() if len(g) > 1)
    result = SplitResult(
        train_path=str(train_path),
        eval_path=str(eval_path),
        train_examples=n - len(eval_lines),
        eval_examples=len(eval_lines),
        groups=sum(1 for g in groups.values() if len(g) > 1),
        grouped_examples=grouped,
        strata=strata_counts,
        seed=inp.seed,
    )
    source_sha = file_sha256(inp.path)
    write_json(
        out / "split.json", {**result.model_dump(), "source": str(inp.path), "source_sha256": source_sha, "format": fmt}
    )
    return result
