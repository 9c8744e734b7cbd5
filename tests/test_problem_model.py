"""Step 2 read by MiniLM fine-tuned with LoRA (agent/interviewer/problem_model.py, train_problem_model.py).

The model is trained with torch and peft and read with numpy: the two must give the same probabilities, or the
numbers measured in training say nothing about what `tunewise plan` reads. The reader mixes the model into the
step-2 head (heads.mixed), and the benchmark reads the out-of-fold readings that --cv writes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.interviewer import heads as H
from agent.interviewer import problem_model
from agent.interviewer import train_problem_model as T

TEXTS = [
    "It must answer from our 120 policy PDFs, which change every quarter.",
    "Make the replies sound like our best agent: warm, short, no exclamation marks.",
    "Answers come from the maintenance manuals, written like our quick-reference cards.",
    "It keeps quoting last year's shipping rates.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A model trained for one epoch on four goals (seconds on a CPU), and its adapters written as the reader loads them."""
    model = T.train(TEXTS * 2, [1, 2, 3, 1] * 2, problem_model.base_folder(), epochs=1, log=lambda _: None)
    adapters, head, scale = T.export(model)
    path = tmp_path_factory.mktemp("model") / "problem_model.npz"
    meta = {"classes": list(T.CLASSES), "r": T.RANK, "alpha": scale * T.RANK, "max_length": T.MAX_LENGTH}
    problem_model.save(path, adapters, head, meta)
    return model, path, adapters


def test_the_numpy_reading_is_the_trained_model_s(tiny):
    model, path, adapters = tiny
    # every weight the adapters were trained on, in all six layers, and nothing else
    assert len(adapters) == 6 * len(problem_model.TARGETS)
    assert {n.split(".", 3)[3] for n in adapters} == set(problem_model.TARGETS)
    long_goal = " ".join(TEXTS) * 6  # past MAX_LENGTH tokens: both readers truncate the same way
    torch_read = T.predict(model, [*TEXTS, long_goal])
    numpy_model = problem_model.ProblemModel.load(problem_model.base_folder(), path)
    for text, expected in zip([*TEXTS, long_goal], torch_read):
        got = numpy_model.probabilities(text)
        assert list(got) == list(T.CLASSES)
        assert np.allclose(list(got.values()), expected, atol=1e-4)
    assert not path.with_name(path.name + ".tmp.npz").exists()  # written whole, through a temporary file


def test_the_model_is_mixed_into_the_step_2_head_at_its_share():
    heads = H.Heads.load()
    head = heads.facts["problem"]
    x = np.zeros(head.weights.shape[1], dtype=np.float32)
    reading = {"both": 0.9, "knowledge": 0.1}  # "unsaid" and "behaviour" absent: they count 0
    alone = H.mixed(head, reading, 1.0).probabilities(x)
    expected = {"unsaid": 0, "knowledge": 0.1, "behaviour": 0, "both": 0.9}
    assert dict(zip(head.classes, alone.tolist())) == pytest.approx(expected)
    assert np.allclose(H.mixed(head, reading, 0.0).probabilities(x), head.probabilities(x))
    half = H.mixed(head, reading, 0.5).probabilities(x)
    assert np.allclose(half, (head.probabilities(x) + alone) / 2) and half.sum() == pytest.approx(1.0)


class _Reads:
    """A step-2 model that reads every goal the same way (a fake: the reader only calls probabilities)."""

    def __init__(self, **p: float) -> None:
        self.p = p
        self.read: list[str] = []

    def probabilities(self, text: str) -> dict[str, float]:
        self.read.append(text)
        return self.p


def test_the_reader_takes_step_2_from_the_model_where_the_heads_read():
    from agent.interviewer.offline import OfflineInterviewer

    goal = "Our support bot should handle refund questions for our online shop; we have 3,000 reviewed replies."
    sure_both = _Reads(both=0.999, behaviour=0.001)
    cues = {f.fact: f for f in OfflineInterviewer(problem_model=sure_both).extract(goal)}
    assert sure_both.read == [goal]  # the goal text, whole
    assert cues["behaviour"].value is True and cues["knowledge"].value is True
    sure_knowledge = _Reads(knowledge=0.999, both=0.001)
    cues = {f.fact: f for f in OfflineInterviewer(problem_model=sure_knowledge).extract(goal)}
    assert "knowledge" in cues and "behaviour" not in cues
    # a reply to a question is the rules' alone: no model, no heads
    replying = _Reads(both=1.0)
    OfflineInterviewer(problem_model=replying).extract("It has to know our stock levels.", focus="problem")
    assert replying.read == []


def test_the_benchmark_reads_the_out_of_fold_readings(tmp_path):
    import benchmarks.interview_accuracy as B

    path = tmp_path / "cv.json"
    readings = {"A-dev": {"dev-001": [0.1, 0.2, 0.3, 0.4]}}
    path.write_text(json.dumps({"classes": list(T.CLASSES), "groups": {"A-dev": 0}, "readings": readings}))
    assert B.problem_readings(path) == {"A-dev": {"dev-001": dict(zip(T.CLASSES, [0.1, 0.2, 0.3, 0.4]))}}
    assert T.groups(["b", "a", "c", "a"], 2) == {"a": 0, "b": 1, "c": 0}


def test_readings_made_from_other_corpora_are_refused_before_an_hour_of_work(tmp_path, capsys):
    import benchmarks.interview_accuracy as B

    path = tmp_path / "cv.json"
    path.write_text(json.dumps({"classes": list(T.CLASSES), "readings": {"A-dev": {"dev-001": [0, 0, 1, 0]}}}))
    assert B.main(["--problem-cv", str(path), "--author", "B-blind1"]) == 2
    err = capsys.readouterr().err
    assert "has no reading of goals by B-blind1" in err and "train_problem_model --cv 5" in err
    path.write_text("{not json")
    assert B.main(["--problem-cv", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --problem-cv {path}: ")
