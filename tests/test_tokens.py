"""tiktoken encodings: tunewise's cache of their ranks, and one clear line when none can be had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tiktoken

from tools import tokens

REPO = Path(__file__).resolve().parents[1]
TEXT = "Refunds within 30 days — ¡hola! naïve 東京 <|endoftext|> 1234567 \n\n  def f(x): return x**2"


def _offline(tmp_path: Path, monkeypatch) -> None:
    """No tiktoken files and no network: only tunewise's own cache can provide an encoding."""
    empty = tmp_path / "no-tiktoken-files"
    empty.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a closed port: a download fails at once
    monkeypatch.delenv("NO_PROXY", raising=False)


def test_the_cached_ranks_give_tiktokens_own_encoding(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TUNEWISE_CACHE_DIR", str(tmp_path / "cache"))
    reference = tiktoken.get_encoding("o200k_base")  # tiktoken's own loading, from its cache files
    built = tokens._load("o200k_base")
    files = list((tmp_path / "cache" / "tiktoken").glob("o200k_base-*.marshal"))
    assert [f.name for f in files] == [f"o200k_base-{tiktoken.__version__}.marshal"]
    _offline(tmp_path, monkeypatch)
    cached = tokens._load("o200k_base")  # tiktoken alone could not load it now
    assert cached.encode_ordinary(TEXT) == built.encode_ordinary(TEXT) == reference.encode_ordinary(TEXT)
    assert cached.encode(TEXT, allowed_special="all") == reference.encode(TEXT, allowed_special="all")
    assert cached.n_vocab == reference.n_vocab and cached.name == "o200k_base"


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TUNEWISE_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "cache" / "tiktoken" / f"cl100k_base-{tiktoken.__version__}.marshal"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x00not marshal at all")
    enc = tokens._load("cl100k_base")
    assert len(enc.encode_ordinary("hello world")) == 2
    assert target.stat().st_size > 1_000_000  # replaced by the real ranks
    _offline(tmp_path, monkeypatch)
    assert tokens._load("cl100k_base").encode_ordinary(TEXT) == enc.encode_ordinary(TEXT)


def test_an_encoding_that_cannot_be_loaded_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(empty),
        "TUNEWISE_CACHE_DIR": str(tmp_path / "cache"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "PYTHONPATH": str(REPO),
    }
    env.pop("NO_PROXY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "validate", str(data)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot load the tiktoken encoding 'o200k_base'" in lines[0]
    assert "TIKTOKEN_CACHE_DIR" in lines[0] and str(empty) in lines[0]
