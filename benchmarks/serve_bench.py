"""Requests per second and latency through tunewise's front, per generation engine, side by side in one run.

    python benchmarks/serve_bench.py --engines transformers,vllm --vllm-python VENV/bin/python [--deployment DIR]

Each engine serves the same deployment with `tunewise serve DIR --engine E` (a real process on a loopback port);
the openai client then sends questions of the shapes people send (a one-liner, a templated ticket, a long pasted
email, and the same question again) at concurrency 1, 8 and 32, `--requests` per level (at least the
concurrency), max_tokens 16. Every request goes through retrieval, the context budget and the sources, so the
table measures what a client of tunewise gets, not the engine alone.

Without --deployment it builds one: the tests' tiny Llama-style model with head_dim 64 (what vLLM's CPU attention
takes), a LoRA adapter, and an index of examples/helpcentre. It prints a Markdown table with the machine, and the
ratio of each engine's requests/s to the first engine's at the same concurrency.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How do I reset my password?",
    "Ticket #4411 from customer 88121: my bike's rear light does not turn on after the update. Order ref "
    "LK-2291-A. Please advise.",
    "Hi team,\n\nI've been a member for two years and last month I moved flats. Since then the delivery slots "
    "shown in the app are for my old address, and when I change it the app says my plan does not cover the new "
    "postcode. I also paid a deposit when I joined. Can you tell me whether I can keep my plan, what happens to "
    "the deposit if I cannot, and how to pause until this is sorted?\n\nThanks, Sam",
    "How do I reset my password?",  # the same question again: a cache would show here
]


def build(folder: Path) -> Path:
    """Write a deployment of a tiny head_dim-64 model with a LoRA adapter over examples/helpcentre."""
    sys.path.insert(0, str(REPO))
    from tests.fakes.tiny_lora import train_tiny_lora
    from tests.fakes.tiny_model import build_tiny_model
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput
    from tools.deploy.deploy import run as deploy
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index

    db = folder / "chroma"
    client = get_chroma_client(db)
    index(
        IndexInput(paths=[REPO / "examples" / "helpcentre"], collection="bench", db=db),
        client=client,
        embedder=get_embedder("local"),
    )
    base = build_tiny_model(
        folder / "base", hidden_size=256, heads=4, kv_heads=2, intermediate_size=512, max_positions=2048
    )
    pairs = [([{"role": "user", "content": q}], "Thanks for asking; here is how.") for q in QUESTIONS[:3]]
    train_tiny_lora(base, folder / "run", pairs=pairs, steps=10)
    out = folder / "bench-bot"
    deploy(
        DeployInput(model=f"hf:{base}+adapter:{folder / 'run'}", collection="bench", db=db, k=2, out=out),
        client=client,
    )
    return out


def serve(deployment: Path, engine: str, port: int, vllm_python: str | None, home: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "agent.cli", "serve", str(deployment), "--engine", engine, "--port", str(port)]
    if engine == "vllm":
        args += ["--vllm-arg=--dtype=float32"] + (["--vllm-python", vllm_python] if vllm_python else [])
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUNEWISE_HOME": str(home)}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait(proc: subprocess.Popen, port: int, timeout: float = 900) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("serve did not come up")


def measure(port: int, name: str, concurrency: int, requests: int) -> dict:
    import openai

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=600)

    def one(i: int) -> float:
        started = time.perf_counter()
        client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], max_tokens=16
        )
        return time.perf_counter() - started

    one(0)  # warm: the first request pays for lazy set-up
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {
        "rps": requests / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
    }


def machine() -> str:
    from tools.machine import probe

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return f"{probe().describe()} ({cpu})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="transformers,vllm")
    parser.add_argument("--deployment", type=Path)
    parser.add_argument("--vllm-python", default=os.environ.get("TUNEWISE_VLLM_PYTHON"))
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=32)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tools.serving.vllm_child import free_port

    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    deployment = args.deployment or build(work)
    name = deployment.name
    rows: list[tuple[str, int, dict]] = []
    for engine in args.engines.split(","):
        port = free_port()
        proc = serve(deployment, engine, port, args.vllm_python, work / f"home-{engine}")
        try:
            wait(proc, port)
            for level in [int(c) for c in args.concurrency.split(",")]:
                rows.append((engine, level, measure(port, name, level, max(level, args.requests))))
                print(f"  {engine} at {level}: {rows[-1][2]['rps']:.2f} req/s", file=sys.stderr, flush=True)
        finally:
            proc.terminate()
            proc.communicate(timeout=60)
    first = {level: r["rps"] for engine, level, r in rows if engine == rows[0][0]}
    print(f"\nmachine: {machine()}; deployment: {deployment}; max_tokens 16, k=2\n")
    print(f"| engine | concurrency | requests/s | p50 latency | p95 latency | req/s vs {rows[0][0]} |")
    print("|---|---:|---:|---:|---:|---:|")
    for engine, level, r in rows:
        ratio = r["rps"] / first[level] if first.get(level) else float("nan")
        print(f"| {engine} | {level} | {r['rps']:.2f} | {r['p50']:.2f} s | {r['p95']:.2f} s | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
