"""RAG index benchmark: `tunewise index` against raw SentenceTransformer.encode, incremental re-runs, search latency.

usage: python benchmarks/rag_bench.py [--chunks 10000] [--words 120] [--queries 200] [--cli]

Builds a synthetic Markdown corpus of exactly --chunks chunks (100 files x sections of --words words, each
section one chunk) and prints, side by side in one run:
  - chunks/s of tools.index.run (walk, hash, load, chunk, embed, upsert) vs raw encode of the same chunk texts
    (target: >= 0.8 of raw);
  - an incremental re-run after 1% of the files change, vs the full build (target: <= 5%);
  - search latency p50/p95 over --queries queries including query embedding (target on 2 cores: p95 < 50 ms).
The embedder is loaded once before timing; --cli adds a cold `tunewise index` subprocess re-run (model load included).
The machine may be shared: the load average is printed beside the figures so noisy runs can be told apart.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clients import get_chroma_client, get_embedder  # noqa: E402
from tools import loaders  # noqa: E402
from tools.chunking import chunk_sections  # noqa: E402
from tools.index import IndexInput, effective_chunk_tokens, run  # noqa: E402
from tools.search import Retriever  # noqa: E402

VOCAB = ("retrieval index embedding vector chunk token model prompt answer question document source policy refund "
         "shipping order invoice account password reset billing plan price discount warranty return store update "
         "weekly catalog product feature release version install configure server client request latency cache "
         "customer support agent ticket escalation region language format schema field value error timeout retry").split()
SECTIONS_PER_FILE = 10


def paragraph(rng: random.Random, words: int) -> str:
    sentences, left = [], words
    while left > 0:
        n = min(left, rng.randint(8, 20))
        sentences.append(" ".join(rng.choice(VOCAB) for _ in range(n)).capitalize() + ".")
        left -= n
    return " ".join(sentences)


def write_file(path: Path, rng: random.Random, words: int, version: int = 0) -> None:
    parts = [f"## Section {s} (v{version})\n\n{paragraph(rng, words)}" for s in range(SECTIONS_PER_FILE)]
    path.write_text("\n\n".join(parts) + "\n")


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=120, help="words per section (one section = one chunk)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cli", action="store_true", help="also time a cold `tunewise index` subprocess re-run")
    args = parser.parse_args()

    rng = random.Random(0)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    docs, db = work / "docs", work / "db"
    docs.mkdir()
    files = [docs / f"doc{n:05d}.md" for n in range(max(1, args.chunks // SECTIONS_PER_FILE))]
    for path in files:
        write_file(path, rng, args.words)
    try:
        embedder = get_embedder("local")
        embedder.embed(["warm-up"] * 8)  # load the model outside every timing
        print(f"corpus: {len(files)} files, ~{args.chunks} chunks of ~{args.words} words; torch threads: "
              f"{__import__('torch').get_num_threads()}; cpus: {os.cpu_count()}; load avg before: {load_avg()}")

        size = effective_chunk_tokens(400, embedder)
        texts = [c.text for p in files for c in chunk_sections(loaders.load(p), max_tokens=size, overlap=60, count=embedder.count_tokens)]
        t0, c0 = time.perf_counter(), time.process_time()
        embedder._model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        raw_s, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
        raw_rate = len(texts) / raw_s

        client = get_chroma_client(db)
        inp = IndexInput(paths=[docs], collection="bench", db=db)
        c0 = time.process_time()
        full = run(inp, client=client, embedder=embedder)
        index_cpu = time.process_time() - c0
        index_rate = full.chunks_added / full.seconds

        for path in files[: max(1, len(files) // 100)]:
            write_file(path, rng, args.words, version=1)
        incremental = run(inp, client=client, embedder=embedder)
        unchanged = run(inp, client=client, embedder=embedder)

        retriever = Retriever(client, "bench", embedder)
        queries = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(3, 10))) + "?" for _ in range(args.queries)]
        for q in queries[:5]:
            retriever.search(q, k=4)
        latencies = []
        for q in queries:
            t0 = time.perf_counter()
            retriever.search(q, k=4)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]

        # Last, because another process writing the local store leaves this process's open view stale.
        cli_s = None
        if args.cli:
            for path in files[-max(1, len(files) // 100) :]:
                write_file(path, rng, args.words, version=2)
            tunewise = Path(sys.executable).with_name("tunewise")
            t0 = time.perf_counter()
            subprocess.run([str(tunewise), "index", str(docs), "--collection", "bench", "--db", str(db), "--json"],
                           check=True, capture_output=True)
            cli_s = time.perf_counter() - t0

        print(f"load avg after: {load_avg()}  (2 cores shared with other work: treat single runs as noisy)\n")
        rows = [
            ("index chunks/s vs raw encode", f"{index_rate:.1f}/s ({full.chunks_added} in {full.seconds:.1f} s)",
             f"{raw_rate:.1f}/s ({len(texts)} in {raw_s:.1f} s)", f"{index_rate / raw_rate:.2f}", ">= 0.80",
             index_rate / raw_rate >= 0.8),
            ("  same, per CPU-second", f"{full.chunks_added / index_cpu:.1f}/cpu-s", f"{len(texts) / raw_cpu:.1f}/cpu-s",
             f"{(full.chunks_added / index_cpu) / (len(texts) / raw_cpu):.2f}", ">= 0.80",
             (full.chunks_added / index_cpu) / (len(texts) / raw_cpu) >= 0.8),
            ("incremental re-run (1% files)", f"{incremental.seconds:.2f} s ({incremental.files_indexed} files, "
             f"+{incremental.chunks_added}/-{incremental.chunks_deleted})", f"{full.seconds:.1f} s full build",
             f"{incremental.seconds / full.seconds:.3f}", "<= 0.05", incremental.seconds / full.seconds <= 0.05),
            ("unchanged re-run", f"{unchanged.seconds:.2f} s (+{unchanged.chunks_added})", f"{full.seconds:.1f} s full build",
             f"{unchanged.seconds / full.seconds:.3f}", "embeds 0", unchanged.chunks_added == 0),
            ("search latency p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f} (max {latencies[-1]:.1f})",
             f"{args.queries} queries, k=4", "", "p95 < 50", p95 < 50),
        ]
        if cli_s is not None:
            rows.append(("cold CLI re-run, 1% changed", f"{cli_s:.1f} s (includes model load)", f"{full.seconds:.1f} s full build",
                         f"{cli_s / full.seconds:.3f}", "info", True))
        widths = [max(len(str(r[i])) for r in rows + [("metric", "tunewise", "baseline", "ratio", "target", "")]) for i in range(5)]
        header = ("metric", "tunewise", "baseline", "ratio", "target")
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  ok")
        for row in rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(row[:5], widths)) + ("  yes" if row[5] else "  NO"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
