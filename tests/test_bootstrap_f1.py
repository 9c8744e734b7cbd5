"""eval's bootstrap macro-F1: one bincount per batch of resamples gives what metrics_eval.macro_f1 gives row by row."""

from __future__ import annotations

import numpy as np

from tools.evaluation import bootstrap as bs
from tools.evaluation.metrics import macro_f1


def test_labels_f1_stat_matches_macro_f1_on_every_resample() -> None:
    rng = np.random.default_rng(7)
    labels = ["billing", "refund", "login", "shipping", ""]  # '' : an output that named no label
    gold = [labels[k] for k in rng.integers(0, 4, 60)]
    predicted = [g if rng.random() < 0.6 else labels[int(rng.integers(0, 5))] for g in gold]
    idx = bs.resamples(60, iterations=300, seed=1)
    stat = bs.labels_f1_stat(predicted, gold)
    want = [macro_f1([predicted[i] for i in row], [gold[i] for i in row]) for row in idx]
    assert np.allclose(stat(idx), want)
    assert np.isclose(stat(np.arange(60)), macro_f1(predicted, gold))


def test_a_label_never_predicted_scores_zero_and_one_never_gold_is_not_averaged() -> None:
    stat = bs.labels_f1_stat(["a", "a", "c", "c"], ["a", "b", "a", "b"])
    # a: tp 1, fp 1 (the first 'a' right, the second wrong), fn 1 -> 0.5; b: never predicted -> 0; c is not gold.
    assert stat(np.arange(4)) == macro_f1(["a", "a", "c", "c"], ["a", "b", "a", "b"]) == 0.25


def test_samples_drawn_by_blocks_are_the_whole_matrix_row_for_row() -> None:
    rng = np.random.default_rng(5)
    n = 257
    values = rng.random(n)
    values[rng.random(n) < 0.2] = np.nan  # examples a metric does not apply to
    labels = ["billing", "refund", "login", ""]
    gold = [labels[k] for k in rng.integers(0, 3, n)]
    predicted = [labels[k] for k in rng.integers(0, 4, n)]
    stats = {
        "mean": bs.mean_stat(values.tolist()),
        "f1": bs.labels_f1_stat(predicted, gold),
        "dense": bs.mean_stat(rng.random(n).tolist()),
    }
    whole = {key: stat(bs.resamples(n, iterations=500, seed=9)) for key, stat in stats.items()}
    for cells in (1, 300, 5000, 1 << 20):  # a row per block, a few rows, many, and everything at once
        drawn = bs.samples(stats, n, iterations=500, seed=9, block_cells=cells)
        for key, stat in stats.items():
            assert np.array_equal(drawn[key], whole[key], equal_nan=True), (cells, key)
            assert np.array_equal(stat(bs.resamples(n, iterations=500, seed=9)), whole[key], equal_nan=True)
    assert bs.interval_of(stats["f1"], drawn["f1"], n) == bs.interval(
        stats["f1"], bs.resamples(n, iterations=500, seed=9)
    )
    assert bs.compare_of(
        "x", "y", "macro_f1", stats["mean"], stats["dense"], drawn["mean"], drawn["dense"], n
    ) == bs.compare("x", "y", "macro_f1", stats["mean"], stats["dense"], bs.resamples(n, iterations=500, seed=9))
