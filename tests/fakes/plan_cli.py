"""`tunewise` with the deterministic hash embedder in MiniLM's place, for pseudo-terminal tests: the real CLI,
its prompts and rendering, without loading torch and MiniLM in every process they spawn."""

from __future__ import annotations

from agent.cli import main
from tests.fakes.hash_embedder import HashEmbedder
from tools.rag import embedders as clients

if __name__ == "__main__":
    clients._EMBEDDERS["local"] = HashEmbedder(dimension=384, name="local:fake-hash")  # the seam get_embedder reads
    main()
