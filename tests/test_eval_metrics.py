"""Each evaluation metric, the bootstrap and the verdict line on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tools.errors import TunewiseError
from tools.evaluation import bootstrap as bs
from tools.evaluation import metrics as me
from tools.evaluation.judge import parse_verdict


class BagOfWords:
    """A deterministic embedder: normalised word counts over a fixed vocabulary of the test's words."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def embed(self, texts):
        rows = []
        for text in texts:
            for w in me.words(text):
                self.vocab.setdefault(w, len(self.vocab))
        for text in texts:
            v = np.zeros(64)
            for w in me.words(text):
                v[self.vocab[w] % 64] += 1
            rows.append(v / (np.linalg.norm(v) or 1))
        return np.array(rows)


def test_rouge_l_is_lcs_f1() -> None:
    assert me.lcs_length("a b c d e".split(), "a c e x".split()) == 3
    assert me.rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    # LCS "the cat the mat" = 4 of 6 and of 5 words: P=4/5, R=4/6
    assert me.rouge_l("The cat ate the mat", "the cat sat on the mat") == pytest.approx(
        2 * 0.8 * (4 / 6) / (0.8 + 4 / 6)
    )
    assert me.rouge_l("nothing shared", "entirely different") == 0.0
    assert me.rouge_l("", "") == 1.0 and me.rouge_l("", "x") == 0.0


def test_json_validity_and_schema() -> None:
    assert me.parse_json('  {"label": "yes"} ')[0]
    assert me.parse_json("[1, 2]")[0]
    assert not me.parse_json("42")[0] and not me.parse_json('"text"')[0]
    assert not me.parse_json('```json\n{"a": 1}\n```')[0]  # fenced JSON is not what a parser receives
    assert not me.parse_json("{'a': 1}")[0]
    validator = me.schema_validator(
        {"type": "object", "required": ["label"], "properties": {"label": {"enum": ["yes", "no"]}}}
    )
    assert validator.is_valid({"label": "yes"}) and not validator.is_valid({"label": "maybe"})
    with pytest.raises(TunewiseError, match="not a valid JSON schema"):
        me.schema_validator({"type": "no-such-type"}, "schema.json")


def test_structural_habits_measured_the_same_way() -> None:
    ref = "Reset it in three steps.\n1. Open settings\n2. Pick reset\n3. Confirm\n\nBest,\nSupport"
    assert me.habits(ref) == {"summary_line": True, "list_style": "numbered", "sign_off": True}
    bullets = "- open settings\n- pick reset"
    assert me.habits(bullets) == {"summary_line": False, "list_style": "bullets", "sign_off": False}
    assert me.habits("Just one line.") == {"summary_line": False, "list_style": "none", "sign_off": False}
    assert me.has_sign_off("Here you go.\nHope this helps!")
    assert me.structure_match(ref, ref) == 1.0
    assert me.structure_match(bullets, ref) == 0.0
    assert me.structure_match("Do this.\n1. a\n2. b", ref) == pytest.approx(2 / 3)


def test_labels_accuracy_and_macro_f1() -> None:
    refs = ["positive", "negative", "neutral", "positive", "negative", "positive"]
    assert me.label_set(refs) == ["negative", "neutral", "positive"]
    assert me.label_set(["Paris", "Rome", "Oslo", "Lima"]) is None  # all distinct: short answers, not classes
    assert me.label_set(["A long free-text answer with many words in it", "no"]) is None
    labels = me.label_set(refs)
    assert me.predict_label("Positive.", labels) == "positive"
    assert me.predict_label("Negative\nbecause the customer is angry", labels) == "negative"
    assert me.predict_label("positive or negative", labels) == ""  # names two labels: no prediction
    # gold: p n u p n p ; predicted: p n p p p p -> F1 positive 2*3/(6+2)=0.75, negative 2/3, neutral 0
    pred = ["positive", "negative", "positive", "positive", "positive", "positive"]
    assert me.macro_f1(pred, refs) == pytest.approx((0.75 + 2 / 3 + 0.0) / 3)
    assert me.macro_f1(refs, refs) == 1.0


def test_length_ratio_and_refusals() -> None:
    assert me.length_ratio("one two three four", "one two") == 2.0
    assert math.isnan(me.length_ratio("x", ""))
    assert me.is_refusal("I'm sorry, but I can't help with that.")
    assert me.is_refusal("As an AI language model, I do not have opinions.")
    assert me.is_refusal("I cannot provide that information.")
    assert not me.is_refusal("Sorry for the wait! Your order ships today.")
    assert not me.is_refusal("You cannot reset it from the app; use the website.")


def test_profile_picks_metrics_from_the_references() -> None:
    assert me.profile(['{"a": 1}', '{"a": 2}']).names[:2] == ["format_adherence", "json_validity"]
    prose = me.profile(["Hello there.\n- a", "Fine.\n- b"])
    assert "structure_match" in prose.names and "json_validity" not in prose.names
    labels = me.profile(["yes", "no", "yes", "no"], judge=True)
    assert {"label_accuracy", "macro_f1", "judge"} <= set(labels.names)


def test_score_per_example() -> None:
    refs = ['{"label": "yes"}', '{"label": "no"}']
    prof = me.profile(refs, me.schema_validator({"type": "object", "required": ["label"]}))
    out = me.score(['{"label": "yes"}', '{"other": 1}'], refs, prof, BagOfWords())
    assert out["json_validity"] == [1.0, 1.0]
    assert out["schema_validity"] == [1.0, 0.0]
    assert out["format_adherence"] == [1.0, 0.0]  # with a schema, adherence means the schema holds
    assert out["similarity"][0] == pytest.approx(1.0) and out["similarity"][1] < 1.0
    assert me.score(["", "x"], refs, prof, BagOfWords())["similarity"][0] == 0.0


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    values = [1.0] * 30 + [0.0] * 10
    idx = bs.resamples(40, seed=3)
    iv = bs.interval(bs.mean_stat(values), idx)
    assert iv.mean == 0.75 and iv.low < 0.75 < iv.high and 0.5 < iv.low and iv.high < 0.95
    assert bs.interval(bs.mean_stat(values), bs.resamples(40, seed=3)) == iv
    nan = bs.interval(bs.mean_stat([math.nan, 1.0, 0.0]), bs.resamples(3))
    assert nan.mean == 0.5  # examples where a metric does not apply are left out, not counted as zero


def test_paired_comparison_and_verdict() -> None:
    n = 40
    idx = bs.resamples(n)
    tuned = bs.mean_stat([1.0] * 36 + [0.0] * 4)
    prompted = bs.mean_stat([1.0] * 5 + [0.0] * 35)
    same_a = bs.mean_stat([0.5] * n)
    refusals_t, refusals_p = bs.mean_stat([0.0] * n), bs.mean_stat([1.0] * 10 + [0.0] * 30)
    comps = [
        bs.compare("tuned", "prompted", "format_adherence", tuned, prompted, idx),
        bs.compare("tuned", "prompted", "similarity", same_a, same_a, idx),
        bs.compare("tuned", "prompted", "refusal_rate", refusals_t, refusals_p, idx),
    ]
    assert comps[0].significant and comps[0].diff == pytest.approx(0.775)
    assert not comps[1].significant
    assert comps[2].diff == pytest.approx(0.25) and comps[2].significant  # fewer refusals counts for tuned
    means = {"tuned": {"format_adherence": 0.9}, "prompted": {"format_adherence": 0.125}}
    ranked, scores = bs.rank(["prompted", "tuned"], comps, means)
    assert ranked == ["tuned", "prompted"] and scores == {"tuned": 2, "prompted": -2}
    winner, line = bs.verdict(ranked, scores, comps, n)
    assert winner == "tuned"
    assert line.startswith("tuned beats prompted on format adherence by 78 points [")
    assert "refusal rate by 25 points" in line and "no significant difference in similarity" in line


def test_verdict_without_a_clear_winner() -> None:
    idx = bs.resamples(20)
    a, b = bs.mean_stat([1.0] * 20), bs.mean_stat([0.0] * 20)
    comps = [bs.compare("x", "y", "rouge_l", a, b, idx), bs.compare("x", "y", "similarity", b, a, idx)]
    ranked, scores = bs.rank(["x", "y"], comps, {"x": {}, "y": {}})
    winner, line = bs.verdict(ranked, scores, comps, 20)
    assert winner is None and line.startswith("no clear winner: ")
    assert "is better on similarity by 100 points [100, 100]" in line


@pytest.mark.parametrize(
    "reply, said",
    [
        ('{"reason": "closer", "winner": "A"}', "A"),
        ('{"winner": "tie"}', "tie"),
        ('Sure: {"reason": "x", "winner": "B"} done', "B"),
        ("I cannot decide", None),
        ('{"winner": "C"}', None),
    ],
)
def test_judge_reply_parsing(reply: str, said: str | None) -> None:
    assert parse_verdict(reply) == said


def test_verdict_measures_the_winner_against_the_prompted_baseline() -> None:
    idx = bs.resamples(30)
    good, mid, bad = bs.mean_stat([1.0] * 30), bs.mean_stat([1.0] * 15 + [0.0] * 15), bs.mean_stat([0.0] * 30)
    stats = {"tuned": good, "base": mid, "prompted": bad}
    comps = [
        bs.compare(a, b, "format_adherence", stats[a], stats[b], idx)
        for a, b in [("tuned", "base"), ("tuned", "prompted"), ("base", "prompted")]
    ]
    ranked, scores = bs.rank(["tuned", "base", "prompted"], comps, {n: {} for n in stats})
    assert ranked == ["tuned", "base", "prompted"]
    assert bs.verdict(ranked, scores, comps, 30)[1].startswith("tuned beats base on format adherence by 50 points")
    winner, line = bs.verdict(ranked, scores, comps, 30, frozenset({"prompted"}))
    assert winner == "tuned" and line.startswith("tuned beats prompted on format adherence by 100 points [100, 100]")
