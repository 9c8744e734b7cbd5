"""Every test runs offline, without a real API key, in its own temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tunewise's own cache (tokenizer ranks) for the whole run: shared by tests, never the user's."""
    return tmp_path_factory.mktemp("tunewise-cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _session_cache: Path) -> None:
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or str(SHARED / "tiktoken-cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", cache)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("TUNEWISE_HOME", str(tmp_path / ".tunewise"))
    monkeypatch.setenv("TUNEWISE_CACHE_DIR", str(_session_cache))
    # Plans say what they mean on the machine that runs them (tools/machine.py): every test, and every process it
    # spawns, plans for the same two-core machine without a GPU, whatever machine runs the suite.
    monkeypatch.setenv("TUNEWISE_MACHINE", '{"cpu_cores": 2}')
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "TUNEWISE_LLM_MODEL", "TUNEWISE_PRICES_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def repo_root() -> Path:
    return REPO
