"""A paid embedder is priced on the exact chunks before anything is sent, and spends only once approved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.fakes.hash_embedder import HashEmbedder
from tests.fakes.openai_server import openai_server  # noqa: F401 - fixture
from tools.clients import get_chroma_client
from tools.errors import TunewiseError
from tools.rag.embedders import OpenAIEmbedder
from tools.rag.index import EmbeddingSpend, IndexInput, run

runner = CliRunner()
SMALL = "openai:text-embedding-3-small"


def _docs(folder: Path, count: int = 4) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"page{n}.md").write_text(f"# Page {n}\n\n" + f"Returns within 30 days for item {n}. " * 40)
    return folder


def _index(docs: Path, *extra: str):
    return runner.invoke(app, ["index", str(docs), "--collection", "help-kb", "--embedder", SMALL, "--json", *extra])


def test_openai_embeddings_need_approval_and_report_their_cost(openai_server, tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs")
    refused = _index(docs)
    assert refused.exit_code != 0
    assert "costs less than $0.0001" in refused.stderr and "--yes" in refused.stderr, refused.stderr
    assert openai_server.calls("POST", "/v1/embeddings") == []  # priced from the chunks, nothing sent
    done = _index(docs, "--yes")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["chunks_added"] > 0 and report["embedding_tokens"] > 0
    assert report["embedding_cost_usd"] == pytest.approx(report["embedding_tokens"] * 0.02 / 1e6, abs=1e-6)
    sent = openai_server.calls("POST", "/v1/embeddings")
    assert sent and all(
        call.body["dimensions"] == 1536 and call.body["model"] == "text-embedding-3-small" for call in sent
    )
    assert sum(len(call.body["input"]) for call in sent) == report["chunks_added"]
    again = _index(docs)  # nothing changed: nothing to embed, nothing to approve
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["embedding_cost_usd"] == 0.0
    assert len(openai_server.calls("POST", "/v1/embeddings")) == len(sent)


def test_an_unpriced_model_on_this_machine_is_free(openai_server, tmp_path: Path) -> None:
    embedder = OpenAIEmbedder("nomic-embed-text")  # a local server's model: not in the price list
    assert embedder.price_per_million == 0.0 and embedder.dimension == 64  # asked the server for its size
    result = run(
        IndexInput(paths=[_docs(tmp_path / "docs")], collection="help-kb", db=tmp_path / "db"),
        client=get_chroma_client(tmp_path / "db"),
        embedder=embedder,
    )
    assert result.chunks_added > 0 and result.embedding_cost_usd == 0.0


class UnpricedEmbedder(HashEmbedder):
    price_per_million = None  # a paid endpoint whose price tunewise does not know


def test_an_unknown_price_is_refused_without_approval_and_shown_to_the_approver(tmp_path: Path) -> None:
    docs = _docs(tmp_path / "docs")
    inp = IndexInput(paths=[docs], collection="help-kb", db=tmp_path / "db")
    client = get_chroma_client(tmp_path / "db")
    embedder = UnpricedEmbedder()
    with pytest.raises(TunewiseError, match="unknown amount"):
        run(inp, client=client, embedder=embedder)
    assert embedder.calls == 0
    seen: list[EmbeddingSpend] = []

    def decline(spend: EmbeddingSpend) -> None:
        seen.append(spend)
        raise TunewiseError("declined")

    with pytest.raises(TunewiseError, match="declined"):
        run(inp, client=client, embedder=embedder, approve=decline)
    assert embedder.calls == 0 and seen[0].cost_usd is None and seen[0].chunks > 0 and seen[0].tokens > 0
    result = run(inp, client=client, embedder=embedder, approve=seen.append)
    assert result.chunks_added == seen[0].chunks and result.embedding_cost_usd is None


def test_the_dry_run_count_is_what_a_real_run_embeds(tmp_path: Path) -> None:
    from tools.rag.index import count_chunks

    docs = _docs(tmp_path / "docs", count=5)
    (docs / "notes.bin").write_bytes(b"\x00")  # skipped by both
    embedder = HashEmbedder()
    files, chunks, tokens = count_chunks([docs], embedder, chunk_tokens=40, overlap=5)
    result = run(
        IndexInput(paths=[docs], collection="help-kb", db=tmp_path / "db", chunk_tokens=40, overlap=5),
        client=get_chroma_client(tmp_path / "db"),
        embedder=embedder,
    )
    assert (files, chunks, tokens) == (result.files_indexed, result.chunks_added, result.embedding_tokens)
    assert chunks > 5  # the pages were cut, not taken whole
