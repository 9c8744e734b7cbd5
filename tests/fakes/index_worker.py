"""Run `tools.rag.index.run` with the hash embedder in a process of its own, so a test can kill -9 it mid-index.

usage: python -m tests.fakes.index_worker DOCS COLLECTION (--db DIR | --url URL) [--hold-after K]
Prints `progress DONE TOTAL` after each written batch of 4 chunks and, after the K-th batch (-1: the last,
just before stale chunks are deleted), prints `holding` and sleeps, so the test kills it at that exact point.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.fakes.hash_embedder import HashEmbedder
from tools.clients import get_chroma_client
from tools.progress import Update
from tools.rag.index import IndexInput, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("docs", type=Path)
    parser.add_argument("collection")
    parser.add_argument("--db", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--hold-after", type=int, default=None)
    parser.add_argument("--chunk-tokens", type=int, default=40)
    parser.add_argument("--overlap", type=int, default=5)
    args = parser.parse_args()

    def progress(update: Update) -> None:
        if update.stage != "embed" or update.done is None or update.total is None:
            return
        done, total = update.done, update.total
        print(f"progress {done} {total}", flush=True)
        last = done == total and total > 0
        if args.hold_after is not None and (
            (args.hold_after == -1 and last) or (done == 4 * args.hold_after and not last)
        ):
            print("holding", flush=True)
            time.sleep(120)

    client = get_chroma_client(args.db, args.url)
    inp = IndexInput(
        paths=[args.docs], collection=args.collection, db=args.db, chunk_tokens=args.chunk_tokens, overlap=args.overlap
    )
    result = run(inp, client=client, embedder=HashEmbedder(), progress=progress, batch_size=4)
    print("done " + result.model_dump_json(), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
