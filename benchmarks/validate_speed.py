"""`tunewise validate --json` against the reference article's validate_training_data, side by side in one run.

    python benchmarks/validate_speed.py [--examples 100000] [--shapes varied,templated,...] [--split]
                                        [--scale 10] [--big-gb 1.0 | --big-gb 0]

For each data shape (benchmarks/datagen.py: varied, templated, duplicates, near, longtail) both run as fresh
processes on the same generated file, alternately, so start-up and the machine's drift count for both. The ratio
is article seconds / tunewise seconds (>= 1.0 means tunewise is no slower), best-of and median. --split also times
`tunewise split` on each file against validate. --scale 10 then validates 10x as many templated examples (1M by
default) once and prints its time against the 100k run's and its peak RSS per process. Unless --big-gb 0, the peak
RSS of `tunewise validate` on a varied file of about that many GB, and on one as large made of copies of the first
file (a duplicate finding for nearly every example: the worst case for the cross-example findings).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from datagen import SHAPES, write_chat_file, write_file  # noqa: E402

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
print(proc.stdout.decode())
"""


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, largest max-RSS of any process the command ran, its output), measured in a fresh parent of its own
    so that earlier runs do not count; the two validate processes are measured each.
    """
    first, _, output = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True
    ).stdout.partition("\n")
    out = first.split()
    if out[2] not in ("0", "1"):
        sys.exit(f"{cmd[0]} failed with exit code {out[2]}")
    return float(out[0]), float(out[1]), output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--split", action="store_true", help="also time `tunewise split` against validate")
    parser.add_argument("--scale", type=int, default=0, help="then validate this many times the templated examples")
    parser.add_argument("--big-gb", type=float, default=0.0)
    args = parser.parse_args()
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(REPO.parent / "shared" / "tiktoken-cache"))
    tunewise = [sys.executable, "-m", "agent.cli", "validate", "--json"]
    print(
        f"examples: {args.examples:,} per shape, {args.repeats} alternating runs each, {os.cpu_count()} cores; "
        f"ratio = article s / tunewise s (target >= 1.0, stretch 2.0)"
    )
    base_seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            data = write_file(Path(tmp) / f"{shape}.jsonl", shape, args.examples)
            article = [sys.executable, str(ARTICLE), str(data)]
            runs_a, out_a, runs_t, out_t = side_by_side(article, tunewise + [str(data)], args.repeats)
            a, t = json.loads(out_a), json.loads(out_t)
            base_seconds[shape] = min(runs_t)
            warned = ", ".join(f"{code}={n:,}" for code, n in sorted(t["warning_counts"].items())) or "none"
            print(
                f"{shape:10s} {data.stat().st_size / 1e6:4.0f} MB  article {min(runs_a):6.2f} s  tunewise {min(runs_t):6.2f} s  "
                f"ratio {min(runs_a) / min(runs_t):.2f}x best-of, {statistics.median(runs_a) / statistics.median(runs_t):.2f}x median"
                f"  (errors={a['errors']}/{sum(t['error_counts'].values())}; warnings: {warned})"
            )
            if args.split:
                split = [
                    sys.executable,
                    "-m",
                    "agent.cli",
                    "split",
                    str(data),
                    "--eval",
                    "0.1",
                    "--out",
                    str(Path(tmp) / "split"),
                ]
                runs_v, _, runs_s, _ = side_by_side(tunewise + [str(data)], split, args.repeats)
                print(
                    f"{'':10s} split {min(runs_s):6.2f} s against validate {min(runs_v):6.2f} s: "
                    f"{min(runs_s) / min(runs_v):.2f}x best-of, {statistics.median(runs_s) / statistics.median(runs_v):.2f}x median (target <= 1.2)"
                )
            data.unlink()
        if args.scale:
            n = args.examples * args.scale
            big = write_file(Path(tmp) / "templated-big.jsonl", "templated", n, seed=1)
            seconds, rss, output = peak_rss_mb(tunewise + [str(big)])
            result = json.loads(output)
            warned = ", ".join(f"{code}={k:,}" for code, k in sorted(result["warning_counts"].items())) or "none"
            reference = base_seconds.get("templated")
            against = (
                f", {seconds / reference:.1f}x the {args.examples:,} run (target <= {1.1 * args.scale:.0f}x)"
                if reference
                else ""
            )
            print(
                f"templated x{args.scale}: {n:,} examples ({big.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s{against}, "
                f"peak RSS {rss:.0f} MB per process (target < 400 MB); warnings: {warned}; "
                f"near-duplicates searched among {result.get('near_duplicates_searched', 300_000):,} examples"
            )
            big.unlink()
        if args.big_gb > 0:
            data = write_chat_file(Path(tmp) / "train.jsonl", args.examples)
            big = Path(tmp) / "big.jsonl"
            per_example = data.stat().st_size / args.examples
            write_chat_file(big, int(args.big_gb * 1e9 / per_example), seed=1)
            seconds, rss, _ = peak_rss_mb(tunewise + [str(big)])
            print(
                f"{big.stat().st_size / 1e9:.2f} GB file: {seconds:.1f} s, peak RSS {rss:.0f} MB per process (target < 400 MB)"
            )
            big.unlink()
            # The same size made of the 100k file over and over: a duplicate finding for almost every example.
            copies = max(1, round(args.big_gb * 1e9 / data.stat().st_size))
            with big.open("wb") as out:
                for _ in range(copies):
                    out.write(data.read_bytes())
            seconds, rss, _ = peak_rss_mb(tunewise + [str(big)])
            print(
                f"{big.stat().st_size / 1e9:.2f} GB of {copies} copies (duplicates everywhere): {seconds:.1f} s, "
                f"peak RSS {rss:.0f} MB per process"
            )


if __name__ == "__main__":
    main()
