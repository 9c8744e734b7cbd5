"""`tunewise` with the deterministic hash embedder in MiniLM's place, for pseudo-terminal tests: the real CLI,
its prompts and rendering, without loading torch and MiniLM in every process they spawn."""

from __future__ import annotations

from agent.cli import main
from tests.fakes.hash_embedder import HashEmbedder
from tools.rag.embedders import use_embedder

if __name__ == "__main__":
    use_embedder("local", HashEmbedder(dimension=384, name="local:fake-hash"))
    main()
