"""How long a person waits for `tunewise plan "GOAL"`'s first question, measured through a real pseudo-terminal.

Side by side, alternating, in one run:
  - first question: spawn `tunewise plan GOAL` and time until its first prompt ("› ") is on screen;
  - full reading: `tunewise plan --goal GOAL --non-interactive --json`, which reads the goal with the
    embedder before anything else (what the first question used to wait for), and its peak memory;
  - with --baseline DIR: the first question of another checkout (e.g. one before this change).
On a busy machine every figure grows; the ratios stay fair because the runs alternate.

    python benchmarks/first_question.py --runs 3 [--baseline /path/to/older/checkout]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = (
    "Our legal team wants a model that drafts NDAs in our firm's exact clause structure. We have about 400 past NDAs."
)


def first_question(tree: Path, cwd: Path) -> float:
    import pexpect

    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "120", "TERM": "xterm"}
    start = time.monotonic()
    child = pexpect.spawn(
        sys.executable,
        ["-m", "agent.cli", "plan", GOAL],
        env=env,
        cwd=str(cwd),
        encoding="utf-8",
        timeout=600,
        dimensions=(50, 120),
    )
    child.expect("› ")
    took = time.monotonic() - start
    child.terminate(force=True)
    return took


def full_reading(tree: Path, cwd: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of a non-interactive --json plan."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "agent.cli", "plan", "--goal", GOAL, "--non-interactive", "--json"],
        env=env,
        cwd=str(cwd),
        check=True,
        capture_output=True,
        timeout=600,
    )
    took = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, in KiB
    return took, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout whose first question to time alongside")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        os.environ["TUNEWISE_HOME"] = str(Path(home) / ".tunewise")
        times: dict[str, list[float]] = {"first question": [], "full reading (--json)": []}
        if args.baseline:
            times["baseline first question"] = []
        peak = 0.0
        for _ in range(args.runs):
            times["first question"].append(first_question(REPO, Path(home)))
            took, peak = full_reading(REPO, Path(home))
            times["full reading (--json)"].append(took)
            if args.baseline:
                times["baseline first question"].append(first_question(args.baseline, Path(home)))
    load = os.getloadavg()[0]
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:26s} median {median[name]:6.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    print(
        f"peak memory of the --json run: {peak:.0f} MiB; load average during the run: {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"first question / full reading: {median['first question'] / median['full reading (--json)']:.2f}")
    if args.baseline:
        print(
            f"first question, baseline / this checkout: "
            f"{median['baseline first question'] / median['first question']:.1f}x faster"
        )


if __name__ == "__main__":
    main()
