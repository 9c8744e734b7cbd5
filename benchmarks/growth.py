"""How each tool whose cost grows with its input grows: its time at n, 2n, 4n and 8n, side by side in one run.

    python benchmarks/growth.py [--examples 25000] [--files 40] [--eval 500] [--only validate,split,conflicts,index,bootstrap]

- validate's cross-example passes (duplicates, near-duplicates, templates, conflicting answers, formats) and
  split's clustering, on the scan of templated support logs and of a file of copies whose answers differ
  (every prompt repeated: the worst case for conflicting-answer detection). The file is scanned once at 8n and the
  smaller sizes are its prefixes, so only the passes after the scan are timed.
- index: n files of a few paragraphs into a fresh local Chroma store, with a bag-of-words embedder (no model).
- eval's bootstrap: the 95% intervals and paired comparisons of two candidates on n examples, with a mean metric
  and a macro-F1.

Each row prints seconds per size and the ratio of the 8n time to the n time: linear growth reads ~8, n log n a
little more, quadratic ~64. A ratio over 8 x log2(8n)/log2(n) (about 10 at these sizes) is super-n-log-n.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import random
import sys
import tempfile
import time
from array import array
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(REPO.parent / "shared" / "tiktoken-cache"))

from datagen import write_file  # noqa: E402

SIZES = (1, 2, 4, 8)


def best(fn, repeats: int = 2) -> float:
    """Return the least of a few timings: the machine is shared, and the least is the one least disturbed."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, sizes: list[int], seconds: list[float]) -> None:
    cells = "  ".join(f"{n:>9,}: {s:7.3f} s" for n, s in zip(sizes, seconds))
    growth = seconds[-1] / max(seconds[0], 1e-9)
    nlogn = 8 * math.log2(sizes[-1]) / math.log2(sizes[0])
    if seconds[0] < 0.02:
        verdict = "too fast at n to judge"  # a few milliseconds: caches and the machine's noise decide the ratio
    else:
        verdict = "linear-ish" if growth <= nlogn * 1.25 else "SUPER-LINEAR"
    print(f"{name:34s} {cells}   8n/n = {growth:5.1f} ({verdict}; n log n would be {nlogn:.1f})", flush=True)


def prefix(scan, n: int):
    """Return the scan of the file's first n valid examples: its per-example arrays cut at n."""
    from tools.dataset.scan import EXAMPLE_ARRAYS, MINHASHES

    part = copy.copy(scan)
    for name, typecode in EXAMPLE_ARRAYS:
        setattr(part, name, array(typecode, getattr(scan, name)[:n]))
    part.ex_minhash = array("I", scan.ex_minhash[: n * MINHASHES])
    part.valid = n
    return part


def scanned(shape: str, n: int, tmp: Path):
    from tools.dataset.scan import ScanConfig, scan_range

    path = write_file(tmp / f"{shape}.jsonl", shape, n)
    cfg = ScanConfig(fmt="chat", encoding_name="o200k_base", max_example_tokens=65_536, hosted=True)
    scan = scan_range(str(path), 0, path.stat().st_size, cfg)
    path.unlink()
    return scan


def conflicting(scan, seed: int = 0):
    """Return the scan with a third of its answers changed: every repeated prompt then has conflicting answers."""
    rng = random.Random(seed)
    out = copy.copy(scan)
    out.ex_answer = array("q", (h + 1 if rng.random() < 0.33 else h for h in scan.ex_answer))
    return out


def cross_example(args, tmp: Path) -> None:
    from tools.dataset import quality

    sizes = [args.examples * k for k in SIZES]
    want = set(args.only.split(","))
    for shape in ("templated", "duplicates"):
        whole = scanned(shape, sizes[-1], tmp)
        if shape == "duplicates":
            whole = conflicting(whole)
        parts = [prefix(whole, n) for n in sizes]
        if "validate" in want or "conflicts" in want:
            times = [best(lambda p=p: quality.findings(p, price_per_token=0.0, epochs=3)) for p in parts]
            report(f"validate findings, {shape}", sizes, times)
        if "conflicts" in want:
            times = [best(lambda p=p: quality.conflicts(p)) for p in parts]
            report(f"conflicting answers, {shape}", sizes, times)
        if "validate" in want:
            times = [best(lambda p=p: quality.near_search(p)) for p in parts]
            report(f"near-duplicate search, {shape}", sizes, times)
        if "split" in want:
            times = [best(lambda p=p: quality.related_groups(p)) for p in parts]
            report(f"split clustering, {shape}", sizes, times)


def index_growth(args, tmp: Path) -> None:
    from tests.fakes.hash_embedder import HashEmbedder
    from tools.clients import get_chroma_client
    from tools.rag.index import IndexInput, run

    words = "bread comet wheel tomato adapter tide violin glacier chess coffee bridge colony orbit string".split()
    sizes = [args.files * k for k in SIZES]
    rng = random.Random(0)
    times = []
    for n in sizes:
        folder = tmp / f"docs-{n}"
        for i in range(n):
            path = folder / f"d{i // 100}" / f"doc{i}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            paragraphs = [f"# Notes {i}"] + [" ".join(rng.choice(words) for _ in range(60)) for _ in range(4)]
            path.write_text("\n\n".join(paragraphs) + "\n")

        def once(n=n, folder=folder) -> None:
            db = tmp / f"db-{n}-{time.perf_counter_ns()}"
            inp = IndexInput(paths=[folder], collection="growth", db=db, chunk_tokens=120, overlap=10)
            run(inp, client=get_chroma_client(db), embedder=HashEmbedder())

        times.append(best(once))
    report("index (files)", sizes, times)


def bootstrap_growth(args) -> None:
    import numpy as np

    from tools.evaluation import bootstrap as bs

    sizes = [args.eval * k for k in SIZES]
    times = []
    for n in sizes:
        rng = np.random.default_rng(0)
        labels = [f"label{k}" for k in range(8)]
        gold = [labels[k] for k in rng.integers(0, 8, n)]
        preds = {
            name: [g if rng.random() < acc else labels[int(rng.integers(0, 8))] for g in gold]
            for name, acc in (("a", 0.8), ("b", 0.7))
        }
        scores = {name: rng.random(n).tolist() for name in preds}

        def once() -> None:  # as tools/evaluation/evaluate.py does it
            stats = {
                name: {"score": bs.mean_stat(scores[name]), "macro_f1": bs.labels_f1_stat(preds[name], gold)}
                for name in preds
            }
            drawn = bs.samples({(name, m): stat for name in stats for m, stat in stats[name].items()}, n)
            for name in stats:
                for m, stat in stats[name].items():
                    bs.interval_of(stat, drawn[name, m], n)
            for metric in ("score", "macro_f1"):
                bs.compare_of(
                    "a",
                    "b",
                    "label_accuracy" if metric == "score" else "macro_f1",
                    stats["a"][metric],
                    stats["b"][metric],
                    drawn["a", metric],
                    drawn["b", metric],
                    n,
                )

        times.append(best(once))
    report("eval bootstrap (examples)", sizes, times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=25_000, help="n for validate's and split's passes")
    parser.add_argument("--files", type=int, default=40, help="n for index")
    parser.add_argument("--eval", type=int, default=500, help="n for eval's bootstrap")
    parser.add_argument("--only", default="validate,split,conflicts,index,bootstrap")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; best of 2 runs per size", flush=True)
    want = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if want & {"validate", "split", "conflicts"}:
            cross_example(args, Path(tmp))
        if "index" in want:
            index_growth(args, Path(tmp))
        if "bootstrap" in want:
            bootstrap_growth(args)


if __name__ == "__main__":
    main()
