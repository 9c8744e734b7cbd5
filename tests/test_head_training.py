"""Training the reader's heads (agent/interviewer/train_heads.py) and keeping the benchmark's folds
(benchmarks/interview_accuracy.py --keep-folds): a leave-one-author-out run takes about an hour on two cores, so a
run that stops keeps the folds it finished, and a fold is reused only when it was trained from the same material.
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.interviewer import heads as H
from agent.interviewer import train_heads as T
from agent.interviewer.offline import OfflineInterviewer
from tests.fakes.hash_embedder import HashEmbedder


def test_a_head_learns_from_the_sparse_word_columns_and_the_dense_ones():
    rng = np.random.default_rng(0)
    n, dense, words = 120, 6, 40
    x = np.zeros((n, dense + words), np.float32)
    x[:, :dense] = rng.standard_normal((n, dense))
    y = np.arange(n) % 3
    for i, c in enumerate(y):  # class 0 and 1 are told by a word; class 2 by the first dense feature
        if c < 2:
            x[i, dense + c] = 1.0
        else:
            x[i, 0] += 4.0
    head = T.fit(x, y, ("a", "b", "c"), l2=0.01, words=words)
    assert [head.predict(row)[0] for row in x] == [("a", "b", "c")[c] for c in y]
    assert head.mean[dense:].tolist() == [0.0] * words and head.scale[dense:].tolist() == [1.0] * words
    plain = T.fit(x[:, :dense], y, ("a", "b", "c"), l2=0.01)  # no words: the dense path alone still fits
    assert plain.weights.shape == (3, dense)


GOALS = {
    "X-one": [
        ("We tried a careful prompt and it fell short. We have 900 approved replies in our voice.", "behaviour"),
        ("Answers must come from our 300 policy PDFs, which change monthly.", "knowledge"),
        ("Write like our best agent and cite the current price list; 1,200 reviewed emails.", "both"),
    ],
    "Y-two": [
        ("The bot sounds stiff; we have 2,000 reviewed chats from our top agent.", "behaviour"),
        ("It quotes last year's shipping rates; the rates live in our wiki.", "knowledge"),
        ("Sound like our brand and know the stock levels; 700 approved answers.", "both"),
    ],
    "Z-three": [
        ("Our summaries need one fixed format; 5,000 approved summaries exist.", "behaviour"),
        ("Staff ask about HR policies in a 120 page handbook.", "knowledge"),
        ("Match our house style and our product catalogue; 3,000 edited descriptions.", "both"),
    ],
}


def corpus(change: str | None = None) -> dict[str, list[T.Prepared]]:
    """Three small authors, read by the rules over a hashing embedder; `change` relabels that author's first goal."""
    reader = OfflineInterviewer(HashEmbedder(dimension=H.DIM), heads=None)
    out = {}
    for author, goals in GOALS.items():
        items = []
        for i, (goal, problem) in enumerate(goals):
            if author == change and i == 0:
                problem = "both"
            labels = {
                "prompting": "fell_short",
                "problem": problem,
                "examples": 900,
                "data_quality": "good",
                "stable": True,
                "private": None,
            }
            items.append({"id": f"{author}-{i}", "goal": goal, "labels": labels})
        out[author] = T.prepare(reader, author, items)
    return out


@pytest.fixture
def lexicon_floor(monkeypatch):
    """Three goals per author are too few for the lexicon's three-goal floor to keep many words: keep them all."""
    fit = H.Lexicon.fit.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(H.Lexicon, "fit", classmethod(lambda cls, texts, min_goals=1: fit(cls, texts, min_goals)))


def test_kept_folds_are_reused_and_a_changed_author_retrains_the_others(tmp_path, monkeypatch, lexicon_floor):
    from benchmarks import interview_accuracy as B

    first = corpus()
    bank = OfflineInterviewer(HashEmbedder(dimension=H.DIM), heads=None).load_bank()
    trained = B.loao(first, bank, keep=tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == 3 and [k.split("-")[0] for k in kept] == ["X", "Y", "Z"]
    assert not list(tmp_path.glob("*.tmp*"))

    def no_training(*args, **kwargs):
        raise AssertionError("a kept fold was retrained")

    monkeypatch.setattr(T, "train", no_training)
    again = B.loao(first, bank, keep=tmp_path)  # every fold is read back, none trained
    for author in GOALS:
        x = np.linspace(-1, 1, len(trained[author].facts["problem"].mean)).astype(np.float32)
        before, back = trained[author].facts["problem"], again[author].facts["problem"]
        assert np.allclose(back.probabilities(x), before.probabilities(x))

    monkeypatch.undo()
    changed = corpus(change="Y-two")  # one label of Y changes: X's and Z's folds trained on it are stale, Y's is not
    calls = []
    real = T.train
    monkeypatch.setattr(T, "train", lambda prepared, *a, **k: calls.append(len(prepared)) or real(prepared, *a, **k))
    B.loao(changed, bank, keep=tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 5

    moved = {
        g: ({k: v + 1 for k, v in rows.items()} if isinstance(rows, dict) else rows + 1) for g, rows in bank.items()
    }
    B.loao(changed, moved, keep=tmp_path)  # new labelled sentences: every fold is retrained
    assert len(calls) == 5


def test_a_folds_folder_that_cannot_be_written_is_one_clear_line(tmp_path, capsys):
    from benchmarks import interview_accuracy as B

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert B.main(["--keep-folds", str(blocker / "folds")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --keep-folds") and "give a folder you can write to" in err and len(err.splitlines()) == 1
    )


def test_a_labelled_file_of_one_s_own_is_read_with_the_shipped_reader(tmp_path, capsys):
    import json

    from benchmarks import interview_accuracy as B

    mine = tmp_path / "our_goals.jsonl"
    goals = [
        ("Make our replies sound like our best agent. We have 4,000 replies she wrote, all reviewed.", "behaviour"),
        ("It keeps quoting last year's shipping rates; the rates live in our 40 policy PDFs.", "knowledge"),
    ]
    lines = [{"id": f"us-{i}", "goal": g, "labels": {"problem": p}} for i, (g, p) in enumerate(goals)]
    mine.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert B.main(["--read", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "our_goals, read with the shipped heads and models" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("our_goals"))
    assert row.split()[1] == "2"  # both goals read and scored
    mine.write_text('{"id": "us-1", "goal": "no labels"}\n')
    assert B.main(["--read", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"{mine}:1" in err
