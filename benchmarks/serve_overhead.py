"""What `tunewise serve` adds on top of the model: retrieval plus HTTP and serving, against the same generator called
directly, side by side; then 50 concurrent requests, which must all succeed.

    python benchmarks/serve_overhead.py [--requests 30] [--concurrency 50] [--max-tokens 16] [--docs 60]

Two deployments: a tiny local model with a LoRA adapter (the real transformers path, local MiniLM embedder, real
Chroma), and an upstream deployment through the fake OpenAI server, where generation costs almost nothing and the
serving overhead stands alone. Each is served by a real `tunewise serve` process. Each request is timed twice in a
row, once through the same generator (same model, same code) called directly here on the exact conversation the
server builds, context included, and once end to end through the `openai` client, so load from other processes
hits both alike. Target: overhead p50 under 30 ms with the local embedder.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_MS = 30.0
COUNTRIES = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Spain", "Madrid"),
    ("Portugal", "Lisbon"),
    ("Austria", "Vienna"),
    ("Norway", "Oslo"),
    ("Sweden", "Stockholm"),
    ("Poland", "Warsaw"),
    ("Greece", "Athens"),
    ("Ireland", "Dublin"),
    ("Finland", "Helsinki"),
]


def write_docs(folder: Path, count: int) -> list[str]:
    """`count` short Markdown files about capitals; returns questions whose answers are in them."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for i in range(count):
        country, capital = COUNTRIES[i % len(COUNTRIES)]
        facts = [
            f"The capital of {country} is {capital}.",
            f"{capital} has {rng.randint(2, 90)} museums.",
            f"Trains from {capital} leave every {rng.randint(5, 40)} minutes.",
            f"The river through {capital} is {rng.randint(10, 900)} km long.",
        ]
        rng.shuffle(facts)
        (folder / f"doc{i:03d}.md").write_text(f"# {country}, note {i}\n\n" + " ".join(facts) + "\n")
    return [f"What is the capital of {c}?" for c, _ in COUNTRIES] + [
        f"How often do trains leave {k}?" for _, k in COUNTRIES
    ]


@contextlib.contextmanager
def serving(folder: Path):
    """`tunewise serve FOLDER` in its own process, as a user runs it; yields its /v1 base URL once /health answers."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(folder.parent / f"{folder.name}-serve.log", "w")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "serve", str(folder), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(
                    f"tunewise serve did not start:\n{(folder.parent / f'{folder.name}-serve.log').read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def side_by_side(
    label: str, deployment, generator, retriever, url: str, questions: list[str], requests: int, max_tokens: int
) -> dict:
    import openai

    from tools.serving.context import with_context

    client = openai.OpenAI(api_key="unused", base_url=url, max_retries=0, timeout=120)
    direct, served, retrieval = [], [], []
    for i in range(requests + 2):  # the first two warm both paths up and are not counted
        messages = [{"role": "user", "content": questions[i % len(questions)]}]
        hits = retriever.search(messages[0]["content"], k=deployment.retrieval.k)
        conversation = with_context(messages, hits, deployment.system_prompt)
        start = time.perf_counter()
        generator.generate([conversation], max_new_tokens=max_tokens, temperature=0.0)
        d = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        resp = client.chat.completions.create(model=deployment.name, messages=messages, max_tokens=max_tokens)
        s = (time.perf_counter() - start) * 1000
        if i >= 2:
            direct.append(d)
            served.append(s)
            retrieval.append(resp.model_extra["tunewise"]["retrieval_ms"])
    overhead = [s - d for s, d in zip(served, direct)]
    return {
        "label": label,
        "direct": statistics.median(direct),
        "served": statistics.median(served),
        "overhead": statistics.median(overhead),
        "overhead_p95": pct(overhead, 0.95),
        "retrieval": statistics.median(retrieval),
        "rest": statistics.median(o - r for o, r in zip(overhead, retrieval)),
    }


def concurrent(label: str, url: str, name: str, questions: list[str], n: int, max_tokens: int) -> str:
    import openai

    client = openai.OpenAI(api_key="unused", base_url=url, max_retries=0, timeout=600)

    def one(i: int) -> tuple[bool, float, str]:
        messages = [{"role": "user", "content": questions[i % len(questions)]}]
        start = time.perf_counter()
        try:
            if i % 2:
                chunks = list(
                    client.chat.completions.create(model=name, messages=messages, max_tokens=max_tokens, stream=True)
                )
                ok = bool(chunks) and "tunewise" in (chunks[-1].model_extra or {})
            else:
                ok = (
                    client.chat.completions.create(model=name, messages=messages, max_tokens=max_tokens)
                    .choices[0]
                    .message.content
                    is not None
                )
            return ok, time.perf_counter() - start, ""
        except Exception as exc:  # counted and shown, not raised: the point is how many fail
            return False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"

    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    good = sum(ok for ok, _, _ in results)
    errors = [why for ok, _, why in results if not ok]
    times = [t for _, t, _ in results]
    line = (
        f"{label:<22} {good}/{n} ok, {n - good} errors, wall {wall:.1f} s, latency p50 {pct(times, 0.5):.2f} s "
        f"p95 {pct(times, 0.95):.2f} s"
    )
    return line + (f"\n    first error: {errors[0]}" if errors else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per deployment")
    parser.add_argument("--concurrency", type=int, default=50, help="simultaneous requests in the load test")
    parser.add_argument("--max-tokens", type=int, default=16, help="tokens generated per request")
    parser.add_argument("--docs", type=int, default=60, help="documents in the collection")
    # On a shared, oversubscribed machine two OpenMP threads per process spin at every barrier while the other is
    # descheduled, and a forward pass slows down tenfold at random; one thread each keeps the comparison fair.
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads here and in the server")
    args = parser.parse_args()

    import logging
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)  # read by the server process's torch at start-up
    import torch

    torch.set_num_threads(args.torch_threads)
    logging.getLogger("tunewise.serve").setLevel(logging.WARNING)

    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.tiny_lora import train_tiny_lora
    from tests.fakes.tiny_model import build_tiny_model
    from tools.builders import generator_loader
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, load_deployment
    from tools.deploy.deploy import run as deploy
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index
    from tools.rag.search import Retriever

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp, FakeOpenAI() as fake:
        root = Path(tmp)
        base = build_tiny_model(root / "base", max_positions=4096)
        train_tiny_lora(
            base, root / "run", pairs=[([{"role": "user", "content": "Where is Paris?"}], "In France.")], steps=5
        )
        questions = write_docs(root / "docs", args.docs)
        db = root / "chroma"
        client = get_chroma_client(db)
        embedder = get_embedder("local")
        index(IndexInput(paths=[root / "docs"], collection="capitals", db=db), client=client, embedder=embedder)
        deploy(
            DeployInput(model=f"hf:{base}+adapter:{root / 'run'}", collection="capitals", db=db, out=root / "local"),
            client=client,
        )
        deploy(
            DeployInput(
                model=f"openai:ft:gpt-4.1-mini:bench::x@{fake.base_url}",
                collection="capitals",
                db=db,
                out=root / "upstream",
            ),
            client=client,
        )
        retriever = Retriever(client, "capitals", embedder)
        rows, loads = [], []
        for name in ("local", "upstream"):
            folder = root / name
            deployment = load_deployment(folder)
            generator = generator_loader()(deployment.generator_spec(folder))
            label = "tiny model + adapter" if name == "local" else "upstream (fake OpenAI)"
            with serving(folder) as url:
                rows.append(
                    side_by_side(
                        label, deployment, generator, retriever, url, questions, args.requests, args.max_tokens
                    )
                )
                loads.append(concurrent(label, url, name, questions, args.concurrency, args.max_tokens))

    print(
        f"{args.requests} requests each, k=4 from {args.docs} documents, {args.max_tokens} tokens, local MiniLM "
        f"embedder, {args.torch_threads} torch thread(s) per process, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'deployment':<22} {'direct p50':>11} {'served p50':>11} {'ratio':>6} {'overhead p50':>13} "
        f"{'overhead p95':>13} {'retrieval p50':>14} {'http+serving p50':>17}"
    )
    for r in rows:
        print(
            f"{r['label']:<22} {r['direct']:>8.1f} ms {r['served']:>8.1f} ms {r['served'] / r['direct']:>5.2f}x "
            f"{r['overhead']:>10.1f} ms {r['overhead_p95']:>10.1f} ms {r['retrieval']:>11.1f} ms "
            f"{r['rest']:>14.1f} ms"
        )
    worst = max(r["overhead"] for r in rows)
    print(
        f"target: overhead p50 < {TARGET_MS:.0f} ms -> {'met' if worst < TARGET_MS else 'NOT met'} "
        f"(worst {worst:.1f} ms)"
    )
    print(f"{args.concurrency} concurrent requests (half streaming):")
    for line in loads:
        print("  " + line)


if __name__ == "__main__":
    main()
