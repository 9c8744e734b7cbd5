"""`tunewise validate --json` against the reference article's validate_training_data, side by side in one run.

    python benchmarks/validate_speed.py [--examples 100000] [--big-gb 1.0 | --big-gb 0]

Both run as fresh processes on the same generated file, so start-up counts for both. The ratio is
article seconds / tunewise seconds (>= 1.0 means tunewise is no slower). Then, unless --big-gb 0, the peak RSS
of `tunewise validate` on a file of about that many GB, and on one as large made of copies of the first file
(a duplicate finding for nearly every example: the worst case for the cross-example findings).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from datagen import write_chat_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARTICLE = REPO.parent / "shared" / "reference" / "validate_training_data.py"


def run_once(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
    return seconds, proc.stdout


def side_by_side(a: list[str], b: list[str], repeats: int) -> tuple[list[float], str, list[float], str]:
    """Alternate the two commands so that drift in the machine's speed hits both alike; every time is kept."""
    times_a, times_b, out_a, out_b = [], [], "", ""
    for _ in range(repeats):
        seconds, out_a = run_once(a)
        times_a.append(seconds)
        seconds, out_b = run_once(b)
        times_b.append(seconds)
    return times_a, out_a, times_b, out_b


_MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, proc.returncode)
"""


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """(seconds, largest max-RSS of any process the command ran), measured in a fresh parent of its own so that
    earlier runs do not count; the two validate processes are measured each."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True).stdout.split()
    if out[2] not in ("0", "1"):
        sys.exit(f"{cmd[0]} failed with exit code {out[2]}")
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-gb", type=float, default=1.0)
    args = parser.parse_args()
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(REPO.parent / "shared" / "tiktoken-cache"))
    tunewise = [sys.executable, "-m", "agent.cli", "validate", "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        data = write_chat_file(Path(tmp) / "train.jsonl", args.examples)
        article = [sys.executable, str(ARTICLE), str(data)]
        runs_a, out_a, runs_t, out_t = side_by_side(article, tunewise + [str(data)], args.repeats)
        t_article, t_tw = min(runs_a), min(runs_t)
        a, t = json.loads(out_a), json.loads(out_t)
        print(f"examples: {args.examples:,} ({data.stat().st_size / 1e6:.0f} MB), best of {args.repeats} alternating runs, "
              f"{os.cpu_count()} cores")
        print(f"article validate_training_data: {t_article:6.2f} s  errors={a['errors']} "
              f"tokens={a['total_tokens']:,} (no overhead, no checks beyond JSON/roles)")
        print(f"tunewise validate --json:       {t_tw:6.2f} s  errors={sum(t['error_counts'].values())} "
              f"warnings={sum(t['warning_counts'].values())} tokens={t['tokens']['total']:,} trained={t['tokens']['trained']:,}")
        print(f"ratio (article / tunewise): {t_article / t_tw:.2f}x best-of, {statistics.median(runs_a) / statistics.median(runs_t):.2f}x "
              f"median  (target >= 1.0, stretch 2.0)")
        if args.big_gb > 0:
            big = Path(tmp) / "big.jsonl"
            per_example = data.stat().st_size / args.examples
            write_chat_file(big, int(args.big_gb * 1e9 / per_example), seed=1)
            seconds, rss = peak_rss_mb(tunewise + [str(big)])
            print(f"{big.stat().st_size / 1e9:.2f} GB file: {seconds:.1f} s, peak RSS {rss:.0f} MB per process (target < 400 MB)")
            big.unlink()
            # The same size made of the 100k file over and over: a duplicate finding for almost every example.
            copies = max(1, round(args.big_gb * 1e9 / data.stat().st_size))
            with big.open("wb") as out:
                for _ in range(copies):
                    out.write(data.read_bytes())
            seconds, rss = peak_rss_mb(tunewise + [str(big)])
            print(f"{big.stat().st_size / 1e9:.2f} GB of {copies} copies (duplicates everywhere): {seconds:.1f} s, "
                  f"peak RSS {rss:.0f} MB per process")


if __name__ == "__main__":
    main()
