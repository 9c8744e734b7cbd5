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
