"""The index and search checks again, against a real `chroma run` server on loopback via --chroma-url."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.test_index import (  # noqa: F401 - collected here again, with this module's `store` fixture
    Store,
    test_bad_inputs_are_one_line_errors,
    test_changed_chunk_size_rebuilds,
    test_embedder_mismatch_is_refused,
    test_full_build_records_metadata_and_rerun_embeds_nothing,
    test_incremental_add_change_delete,
    test_kill_9_then_rerun_ends_consistent,
    test_other_roots_are_left_alone,
    test_unreadable_or_emptied_file_is_skipped_and_its_chunks_dropped,
)
from tests.test_lexical import (  # noqa: F401 - the lexical index's checks, on the server too
    test_a_collection_without_a_lexical_index_gets_one_on_first_search,
    test_a_run_killed_between_the_two_writes_heals_without_embedding,
    test_an_unusable_lexical_index_falls_back_to_dense_with_a_line,
    test_lexical_index_follows_every_upsert_and_delete,
    test_where_filters_the_lexical_list_too,
)
from tests.test_search import DOCS
from tools.clients import get_chroma_client
from tools.rag.embedders import get_embedder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):
    """A real Chroma server (`chroma run`, from the venv's bin) for this module's tests."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = open(folder / "server.log", "w")
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def store(chroma_url: str) -> Store:
    return Store(get_chroma_client(None, chroma_url), None, chroma_url, f"c-{uuid.uuid4().hex[:8]}")


def test_cli_index_and_search_through_the_server(chroma_url: str, tmp_path: Path) -> None:
    get_embedder("local")  # the real MiniLM, shared with the other modules in this process
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    runner = CliRunner()
    remote = ["--collection", "server-kb", "--chroma-url", chroma_url]

    built = runner.invoke(app, ["index", str(docs), *remote, "--json"])
    assert built.exit_code == 0, built.output
    first = json.loads(built.stdout)
    assert (first["files_indexed"], first["chunks_total"], first["files_skipped"]) == (5, 6, [])
    assert not (tmp_path / ".tunewise").exists()  # nothing local: no folder, no lock

    found = runner.invoke(
        app, ["search", "why does a comet's tail face away from the sun", *remote, "-k", "2", "--json"]
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and hits[0]["source"].endswith("space.txt")

    (docs / "garden.html").unlink()
    (docs / "space.txt").write_text("Meteor showers happen when Earth crosses a comet's debris trail.\n")
    again = json.loads(runner.invoke(app, ["index", str(docs), *remote, "--json"]).stdout)
    assert (again["files_indexed"], again["chunks_added"], again["chunks_deleted"], again["chunks_total"]) == (
        1,
        1,
        2,
        5,
    )
    meteors = json.loads(runner.invoke(app, ["search", "meteor shower", *remote, "-k", "1", "--json"]).stdout)
    assert "debris trail" in meteors[0]["text"]
    gone = json.loads(runner.invoke(app, ["search", "tomato", *remote, "-k", "5", "--json"]).stdout)
    assert not any(h["source"].endswith("garden.html") for h in gone)


def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    out = CliRunner().invoke(
        app, ["search", "x", "--collection", "kbase", "--chroma-url", f"http://127.0.0.1:{_free_port()}"]
    )
    assert out.exit_code == 1
    assert out.stderr.startswith("error: cannot reach Chroma at http://127.0.0.1:") and "chroma run" in out.stderr
    bad = CliRunner().invoke(app, ["search", "x", "--collection", "kbase", "--chroma-url", "ftp://host"])
    assert bad.exit_code == 2 and "bad --chroma-url" in bad.stderr
