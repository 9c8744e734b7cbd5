"""Which number counts the good examples, read by MiniLM fine-tuned with LoRA (agent/interviewer/role_model.py,
train_role_model.py).

Trained with torch and peft on the top layers only, read with numpy through all six: the two must give the same
probabilities, or what leaving authors out measured says nothing about what `tunewise plan` reads. The reader mixes
the model's reading into the role head's (heads.ROLE_MODEL_SHARE), and the benchmark reads --cv's readings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.interviewer import heads as H
from agent.interviewer import problem_model, role_model
from agent.interviewer import train_role_model as T

GOALS = [
    {
        "goal": "We answer 40,000 calls a day; our annotators labelled 9,500 of them last year.",
        "labels": {"examples": 9500},
    },
    {"goal": "2,000 approved sections of dossiers, and a 15-page style guide.", "labels": {"examples": 2000}},
    {"goal": "Our 12 agents wrote 800 replies that the team lead signed off.", "labels": {"examples": 800}},
    {"goal": "We have 3 stores and 1.2M customers, and no examples yet.", "labels": {"examples": 0}},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A model trained for one epoch on four goals (seconds on a CPU), written as the reader loads it."""
    found = [T.spans(g) for g in GOALS]
    model = T.train(
        [g["goal"] for g in GOALS] * 2, found * 2, problem_model.base_folder(), epochs=1, log=lambda _: None
    )
    adapters, head, scale = T.export(model)
    path = tmp_path_factory.mktemp("model") / "role_model.npz"
    meta = {"classes": list(T.CLASSES), "r": T.RANK, "alpha": scale * T.RANK, "max_length": T.MAX_LENGTH}
    problem_model.save(path, adapters, head, meta)
    return model, path, adapters


def test_the_labels_are_the_count_of_good_examples_and_nothing_else():
    assert [t for _, _, t in T.spans(GOALS[0])] == [False, True]
    assert [t for _, _, t in T.spans(GOALS[3])] == [False, False]  # 3 stores, 1.2M customers: "no examples" is 0
    # examples that exist but are not good, with no count: which number counted them cannot be told
    unlabelled = {
        "goal": "5,000 transcripts nobody reviewed.",
        "labels": {"examples": None, "data_quality": "unreviewed"},
    }
    assert [t for _, _, t in T.spans(unlabelled)] == [None]


def test_the_numpy_reading_is_the_trained_model_s(tiny):
    model, path, adapters = tiny
    # the adapters change only the layers above the frozen ones, and every weight there that they were trained on
    layers = {int(name.split(".")[2]) for name in adapters}
    assert layers == set(range(T.FROZEN, 6))
    assert len(adapters) == (6 - T.FROZEN) * len(problem_model.TARGETS)
    long_goal = (
        "We have 600 reviewed replies. " + "Our customers write in every day about their orders. " * 60 + "And 70 more."
    )
    texts = [g["goal"] for g in GOALS] + [long_goal]
    spans = [[(s, e) for s, e, _ in T.spans({"goal": t, "labels": {}})] for t in texts]
    torch_read = T.predict(model, texts, spans)
    numpy_model = role_model.RoleModel.load(problem_model.base_folder(), path)
    for text, found, expected in zip(texts, spans, torch_read):
        got = numpy_model.roles(text, found)
        assert [g is None for g in got] == [e is None for e in expected]
        assert np.allclose([g for g in got if g is not None], [e for e in expected if e is not None], atol=1e-4)
    assert torch_read[-1][-1] is None  # "70" is past the tokens MiniLM reads: no reading, not a guess


class _Roles:
    """A role model that gives each number the probability its value maps to (a fake: the reader calls roles())."""

    def __init__(self, by_value: dict[str, float]) -> None:
        self.by_value = by_value
        self.read: list[list[str]] = []

    def roles(self, text: str, spans: list[tuple[int, int]]) -> list[float | None]:
        self.read.append([text[s:e] for s, e in spans])
        return [self.by_value.get(text[s:e]) for s, e in spans]


def test_the_reader_mixes_the_role_model_into_the_role_head():
    from agent.interviewer.offline import OfflineInterviewer

    goal = "We handle 40,000 calls a day, and our annotators labelled 9,500 calls last year for the new classifier."

    def count(model: object) -> object:
        found = {f.fact: f for f in OfflineInterviewer(problem_model=None, role_model=model).extract(goal)}
        return found["examples"].value if "examples" in found else None

    sure = _Roles({"40,000": 1.0, "9,500": 0.0})
    assert count(sure) == 40000  # mixed at half, a sure model outweighs the head: the count follows it
    assert sure.read == [["40,000", "9,500"]]
    assert count(_Roles({"40,000": 0.0, "9,500": 1.0})) == 9500
    assert count(_Roles({})) == count(None)  # no reading of a number: the head's alone
    assert 0 < H.ROLE_MODEL_SHARE < 1


def test_the_benchmark_reads_the_out_of_fold_readings(tmp_path, capsys):
    import benchmarks.interview_accuracy as B

    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"classes": list(T.CLASSES), "readings": {"A-dev": {"dev-001": {"17": 0.25}}}}))
    assert B.role_readings(path) == {"A-dev": {"dev-001": {17: 0.25}}}
    assert B.main(["--role-cv", str(path), "--author", "B-blind1"]) == 2
    err = capsys.readouterr().err
    assert "has no reading of goals by B-blind1" in err and "train_role_model --cv 5" in err
    path.write_text("[]")
    assert B.main(["--role-cv", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --role-cv {path}: ")


def test_the_shipped_role_model_loads_and_reads_a_goal():
    assert role_model.shipped()
    model = role_model.RoleModel.load(problem_model.base_folder())
    text = "Our support team wrote and reviewed 3,000 replies; we serve 2 million customers."
    numbers = H.numbers_in(text)
    assert [n.value for n in numbers] == [3000, 2_000_000]
    replies, customers = model.roles(text, [(n.start, n.end) for n in numbers])
    assert replies is not None and customers is not None and replies > 0.5 > customers
