"""Synthetic chat training data for the benchmarks: varied enough that duplicates are rare, as in real data."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "account order refund invoice shipping password login delivery subscription billing card address email phone plan "
    "upgrade downgrade cancel renew charge receipt warranty return exchange size colour stock discount code coupon "
    "tracking parcel courier weekend morning evening yesterday today tomorrow week month please thanks help issue "
    "problem error screen button page app website mobile desktop browser settings profile security verify confirm "
    "change update reset locked blocked missing damaged late early wrong right quick slow broken working again still"
).split()
STEPS = ("Open Settings", "Choose Billing", "Select the order", "Press Confirm", "Check your inbox", "Restart the app")


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def example(rng: random.Random, i: int) -> dict:
    user = " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(1, 3)))
    steps = "\n".join(f"{k + 1}. {rng.choice(STEPS)} ({sentence(rng, 4)})" for k in range(rng.randint(2, 4)))
    answer = f"Hi there! {sentence(rng, rng.randint(5, 10))}\n{steps}\nBest, Acme Support (ref {i})"
    return {"messages": [
        {"role": "system", "content": "You are a support agent for Acme Corp."},
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]}


def write_chat_file(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(example(rng, i)) + "\n")
    return path
