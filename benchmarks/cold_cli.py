"""Cold `tunewise search` and unchanged `tunewise index`, old embedding path against new, side by side in one run.

usage: python benchmarks/cold_cli.py [--runs 5] [--docs examples/helpcentre]
       (also: python benchmarks/rag_bench.py --cold-cli)

Each run is a fresh process, as a person at a terminal starts one. The two paths alternate run by run, so a busy
machine slows both alike: "torch" is sentence-transformers (TUNEWISE_LOCAL_EMBEDDER=torch, the path before the ONNX
runner), "onnx" is chromadb's ONNX MiniLM runner over the exported model (tools/rag/onnx_minilm.py). Peak RSS is
each child's own ru_maxrss. Targets (issue 29, 2 cores): search p50 <= 1.5 s and peak RSS <= 250 MB on the new path;
the unchanged index re-run no slower than before.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["how do I cancel my subscription", "what does Care+ cover", "my e-bike battery will not charge"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `cmd` to the end; return (wall seconds, peak RSS in MB) of that child alone."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-400:] if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def measure(runs: int, docs: Path) -> None:
    """Build a collection once, then time both paths alternately and print the table with its ratios."""
    tunewise = str(Path(sys.executable).with_name("tunewise"))
    home = Path(tempfile.mkdtemp(prefix="tunewise-cold-"))
    env = {**os.environ, "TUNEWISE_HOME": str(home), "TOKENIZERS_PARALLELISM": "false"}
    try:
        subprocess.run([tunewise, "index", str(docs), "--collection", "cold"], env=env, check=True, capture_output=True)
        subprocess.run([tunewise, "search", "warm", "--collection", "cold"], env=env, check=True, capture_output=True)
        rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for n in range(runs):
            for path in ("torch", "onnx"):
                run_env = {**env, "TUNEWISE_LOCAL_EMBEDDER": path}
                query = QUERIES[n % len(QUERIES)]
                rows.setdefault(("search", path), []).append(
                    timed([tunewise, "search", query, "--collection", "cold"], run_env)
                )
                rows.setdefault(("index (unchanged)", path), []).append(
                    timed([tunewise, "index", str(docs), "--collection", "cold"], run_env)
                )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    load = os.getloadavg()
    print(f"cold CLI, {runs} runs per cell, paths alternating; load average {load[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<20}{'torch p50':>11}{'onnx p50':>10}{'ratio':>8}{'torch RSS':>11}{'onnx RSS':>10}{'ratio':>8}")
    for command in ("search", "index (unchanged)"):
        old, new = rows[(command, "torch")], rows[(command, "onnx")]
        t_old, t_new = statistics.median(w for w, _ in old), statistics.median(w for w, _ in new)
        m_old, m_new = max(m for _, m in old), max(m for _, m in new)
        print(
            f"{command:<20}{t_old:>9.2f} s{t_new:>8.2f} s{t_old / t_new:>7.1f}x"
            f"{m_old:>8.0f} MB{m_new:>7.0f} MB{m_old / m_new:>7.1f}x"
        )
    search = rows[("search", "onnx")]
    p50, peak = statistics.median(w for w, _ in search), max(m for _, m in search)
    ok = p50 <= 1.5 and peak <= 250
    print(f"target: search p50 {p50:.2f} s <= 1.5 s and peak RSS {peak:.0f} MB <= 250 MB: {'yes' if ok else 'NO'}")


def main() -> None:
    """Parse the flags and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--docs", type=Path, default=REPO / "examples" / "helpcentre")
    args = parser.parse_args()
    measure(args.runs, args.docs)


if __name__ == "__main__":
    main()
