"""Bootstrap 95% intervals and the paired comparisons behind the verdict.

One seeded matrix of resampled example indices is drawn per evaluation and shared by every candidate and metric,
so a comparison of two candidates resamples the same examples on both sides (a paired bootstrap): the difference
is measured example by example, which is what removes the examples' own difficulty from the comparison.

`samples` draws that matrix a block of rows at a time and runs every statistic on each block while it is in the
CPU cache, so the (iterations x n) matrix is never held; `interval` and `compare` also take a whole matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator, Mapping

import numpy as np

from tools.evaluation.metrics import METRICS, PRIMARY

ITERATIONS = 2000  # percentile intervals settle to about half a point by 2000 resamples
# Index cells per block of resamples a statistic works on at once. Whole (2000 x n) temporaries (float64 picks, NaN
# masks, confusion cells) left the CPU cache past a few hundred examples: 8x the examples cost 16x the time, all of
# it memory traffic and fresh pages. A block's temporaries (~0.5 MB each) stay in cache; every row's arithmetic is
# the same as before, so the numbers are identical.
BLOCK_CELLS = 1 << 16
Stat = Callable[[np.ndarray], "float | np.ndarray"]  # indices (n,) -> a value; (iterations, n) -> one per row


@dataclass(frozen=True)
class Interval:
    """A statistic on all examples (`mean`) and the low and high ends of its percentile bootstrap 95% interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """`a` minus `b` on one metric, signed so that positive always favours `a`."""

    a: str
    b: str
    metric: str
    diff: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """True when the 95% interval excludes zero: one side is better."""
        return self.low > 0 or self.high < 0


def resamples(n: int, *, iterations: int = ITERATIONS, seed: int = 0) -> np.ndarray:
    """Return (iterations, n) example indices drawn with replacement: the generator's int64 draws, so a seed always
    gives the same resamples (`samples` draws the same stream a block at a time).
    """
    idx = np.random.default_rng(seed).integers(0, n, size=(iterations, n))
    return idx


def samples(
    stats: Mapping[Hashable, Stat],
    n: int,
    *,
    iterations: int = ITERATIONS,
    seed: int = 0,
    block_cells: int = BLOCK_CELLS,
) -> dict:
    """Return each statistic on every resample: what `stat(resamples(n, iterations=iterations, seed=seed))` gives,
    row for row, with the rows drawn and used a block at a time (the generator's stream does not depend on the
    blocks).
    """
    rng = np.random.default_rng(seed)
    rows = max(1, block_cells // max(n, 1))
    out = {key: np.empty(iterations) for key in stats}
    for start in range(0, iterations, rows):
        block = rng.integers(0, n, size=(min(rows, iterations - start), n))
        for key, stat in stats.items():
            out[key][start : start + len(block)] = stat(block)
    return out


def _blocks(idx: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first row, rows) of a resample matrix, in blocks of about BLOCK_CELLS indices."""
    rows = max(1, BLOCK_CELLS // max(idx.shape[1], 1))
    for start in range(0, len(idx), rows):
        yield start, idx[start : start + rows]


def mean_stat(values: list[float]) -> Stat:
    """Build the statistic that takes the mean over the examples where the metric applies (NaN elsewhere), for one
    index row or many at once.
    """
    arr = np.asarray(values, dtype=float)
    missing = np.isnan(arr)
    filled = np.where(missing, 0.0, arr)  # what nansum adds up: NaN as 0, once rather than per resample
    present = ~missing if missing.any() else None

    def means(idx: np.ndarray) -> np.ndarray:
        sums = filled[idx].sum(axis=-1)
        counts = present[idx].sum(axis=-1) if present is not None else np.full(sums.shape, idx.shape[-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def stat(idx: np.ndarray) -> float | np.ndarray:
        if idx.ndim == 1:
            return means(idx)[()]
        out = np.empty(len(idx))
        for start, block in _blocks(idx):
            out[start : start + len(block)] = means(block)
        return out

    return stat


def rows_stat(fn: Callable[[np.ndarray], float]) -> Stat:
    """Apply a statistic written for one index row (macro-F1) row by row to a resample matrix."""

    def stat(idx: np.ndarray) -> float | np.ndarray:
        return fn(idx) if idx.ndim == 1 else np.array([fn(row) for row in idx])

    return stat


def labels_f1_stat(predicted: list[str], gold: list[str]) -> Stat:
    """Build the statistic tools.evaluation.metrics.macro_f1 of the indexed examples, for one index row or many at
    once.

    Applied row by row, macro_f1 made a Python pass per label over every resample: 2000 x labels x n steps, over a
    minute for 800 examples. Here each resample's confusion matrix is one bincount of (row, gold, predicted) codes.
    """
    labels = sorted(set(gold) | set(predicted))
    code = {label: k for k, label in enumerate(labels)}
    g = np.array([code[x] for x in gold], dtype=np.int64)
    p = np.array([code[x] for x in predicted], dtype=np.int64)
    size = len(labels)
    pair = g * size + p  # each example's cell in a confusion matrix
    # Resamples per bincount: the indices and the counts of a block stay within about BLOCK_CELLS each.
    chunk = max(1, min(BLOCK_CELLS // max(len(g), 1), BLOCK_CELLS // max(size * size, 1)))

    def stat(idx: np.ndarray) -> float | np.ndarray:
        rows = np.atleast_2d(idx)
        out = np.empty(len(rows))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cells = pair[part] + (np.arange(len(part)) * (size * size))[:, None]
            confusion = np.bincount(cells.ravel(), minlength=len(part) * size * size).reshape(len(part), size, size)
            tp = np.diagonal(confusion, axis1=1, axis2=2)
            golds, preds = confusion.sum(axis=2), confusion.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                f1 = np.where(tp > 0, 2 * tp / (golds + preds), 0.0)  # 2tp / (2tp + fp + fn)
                present = golds > 0  # the gold labels of this resample, as macro_f1 averages over
                out[start : start + len(part)] = (f1 * present).sum(axis=1) / present.sum(axis=1)
        return out[0] if idx.ndim == 1 else out

    return stat


def _samples(stat: Stat, idx: np.ndarray) -> np.ndarray:
    return np.asarray(stat(idx), dtype=float)


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if not samples.size:
        return math.nan, math.nan
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def interval(stat: Stat, idx: np.ndarray) -> Interval:
    """Return the statistic on all examples with its percentile bootstrap 95% interval."""
    return interval_of(stat, _samples(stat, idx), idx.shape[1])


def interval_of(stat: Stat, drawn: np.ndarray, n: int) -> Interval:
    """Return `interval`, from the statistic's values on the resamples (`samples`) and the number of examples."""
    point = float(stat(np.arange(n)))
    low, high = _percentiles(drawn)
    return Interval(point, low, high)


def compare(a: str, b: str, metric: str, stat_a: Stat, stat_b: Stat, idx: np.ndarray) -> Comparison:
    """Return the paired difference `a - b` (negated for lower-is-better metrics) with its 95% interval."""
    return compare_of(a, b, metric, stat_a, stat_b, _samples(stat_a, idx), _samples(stat_b, idx), idx.shape[1])


def compare_of(
    a: str, b: str, metric: str, stat_a: Stat, stat_b: Stat, drawn_a: np.ndarray, drawn_b: np.ndarray, n: int
) -> Comparison:
    """Return `compare`, from both statistics' values on the same resamples (`samples`) and the number of examples."""
    sign = -1.0 if METRICS[metric].better == "lower" else 1.0
    diff = sign * float(stat_a(np.arange(n)) - stat_b(np.arange(n)))
    low, high = _percentiles(sign * (drawn_a - drawn_b))
    return Comparison(a, b, metric, diff, low, high)


def rank(
    names: list[str], comparisons: list[Comparison], means: dict[str, dict[str, float]]
) -> tuple[list[str], dict[str, int]]:
    """Rank the candidates best first, by significant wins minus significant losses, then the primary metric's mean;
    return them and each one's score.
    """
    score = {name: 0 for name in names}
    for c in comparisons:
        if c.significant and METRICS[c.metric].ranks:
            winner, loser = (c.a, c.b) if c.diff > 0 else (c.b, c.a)
            score[winner] += 1
            score[loser] -= 1
    primary = next((m for m in PRIMARY if all(m in means[n] for n in names)), None)

    def key(name: str) -> tuple[float, float]:
        value = means[name].get(primary, math.nan) if primary else math.nan
        if primary and METRICS[primary].better == "lower":
            value = -value
        return (-score[name], -(value if not math.isnan(value) else -math.inf))

    return sorted(names, key=key), score


def _amount(metric: str, c: Comparison) -> str:
    if METRICS[metric].points:
        return f"{abs(c.diff) * 100:.0f} points [{c.low * 100:.0f}, {c.high * 100:.0f}]"
    return f"{abs(c.diff):.2f} [{c.low:.2f}, {c.high:.2f}]"


def _flip(c: Comparison) -> Comparison:
    return Comparison(c.b, c.a, c.metric, -c.diff, -c.high, -c.low)


def verdict(
    ranked: list[str],
    scores: dict[str, int],
    comparisons: list[Comparison],
    n: int,
    baselines: frozenset[str] = frozenset(),
) -> tuple[str | None, str]:
    """Return (winner or None, one line): the top candidate, metric by metric, against the best of `baselines`
    (the prompt-engineered candidates: the competitor a fine-tune has to beat) or else the runner-up.
    """
    if len(ranked) < 2:
        return (ranked[0] if ranked else None), f"only one candidate, nothing to compare (n={n})"
    a = ranked[0]
    b = next((name for name in ranked[1:] if name in baselines), ranked[1])
    pair = [c if c.a == a else _flip(c) for c in comparisons if {c.a, c.b} == {a, b} and METRICS[c.metric].ranks]
    wins = [f"{METRICS[c.metric].label} by {_amount(c.metric, c)}" for c in pair if c.significant and c.diff > 0]
    losses = [
        f"{METRICS[c.metric].label} by {_amount(c.metric, _flip(c))}" for c in pair if c.significant and c.diff < 0
    ]
    same = [METRICS[c.metric].label for c in pair if not c.significant]
    parts = []
    if wins:
        parts.append(f"{a} beats {b} on {', '.join(wins)}")
    if losses:
        parts.append(f"{b} is better on {', '.join(losses)}")
    if same:
        parts.append(f"no significant difference in {', '.join(same)}")
    winner = a if scores[a] > scores[ranked[1]] else None
    head = "" if winner else "no clear winner: "
    return winner, f"{head}{'; '.join(parts)} (n={n}, paired bootstrap 95% intervals)"
