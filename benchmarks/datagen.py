"""Synthetic chat training data for the benchmarks, in the shapes users' files have.

- varied: every example different; duplicates are rare.
- templated: support logs. A small vocabulary, the same greeting and sign-off, a few topics whose requests differ by
  an order number, a date or a product: the shape that makes near-duplicate search quadratic if done naively.
- duplicates: heavy exact duplication (each distinct example about five times, shuffled).
- near: about 10% of the examples are a light edit of an earlier one (one word changed).
- longtail: short examples with a few very long conversations (dozens of turns, thousands of tokens) among them.
"""

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
SYSTEM = "You are a support agent for Acme Corp."


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def example(rng: random.Random, i: int) -> dict:
    user = " ".join(sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(1, 3)))
    steps = "\n".join(f"{k + 1}. {rng.choice(STEPS)} ({sentence(rng, 4)})" for k in range(rng.randint(2, 4)))
    answer = f"Hi there! {sentence(rng, rng.randint(5, 10))}\n{steps}\nBest, Acme Support (ref {i})"
    return _chat(user, answer)


def _chat(user: str, answer: str, system: str = SYSTEM) -> dict:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


# Templated support logs: each topic is a request with slots, and its numbered answer.
GREETINGS = ("Hi,", "Hello,", "Hi there,", "Good morning,")
SIGNOFFS = ("Thanks.", "Thank you!", "Thanks in advance.", "Regards.")
PRODUCTS = (
    "espresso machine",
    "kettle",
    "toaster",
    "blender",
    "grinder",
    "milk frother",
    "coffee scale",
    "water filter",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TOPICS = (
    (
        "my order {n} for a {p} has not arrived yet. The tracking page still says it left the warehouse on {d}. "
        "Can you tell me where it is?",
        "Sorry for the wait on order {n}.\n1. Open the tracking link in your confirmation email.\n2. If it still shows "
        "the warehouse, reply here and we will contact the courier.\n3. We will send a new {p} if it is lost.",
    ),
    (
        "I was charged twice for order {n} on {d}. Please refund the second charge to my card.",
        "I can see the double charge on order {n}.\n1. The second charge is refunded today.\n2. It reaches your card "
        "in 3-5 working days.\n3. You will get an email receipt for the refund.",
    ),
    (
        "the {p} from order {n} arrived damaged on {d}, the box was crushed and it does not turn on. I want a replacement.",
        "I am sorry the {p} arrived damaged.\n1. Keep the box for the courier.\n2. We ship a replacement for order {n} "
        "today.\n3. The courier collects the broken one when they deliver.",
    ),
    (
        "I cannot log in to my account since {d}. The reset email for order {n} never arrives.",
        "Let us get you back in.\n1. Check your spam folder for the reset email.\n2. Add support@acme.example to your "
        "contacts.\n3. Request a new link; it is valid for one hour.",
    ),
    (
        "how do I descale my {p}? It came with order {n} and the light has been blinking since {d}.",
        "Descaling your {p}:\n1. Fill the tank with water and descaler.\n2. Hold the power button for 5 seconds.\n"
        "3. Rinse twice with clean water when the light stops blinking.",
    ),
    (
        "I want to return the {p} from order {n}. I bought it on {d} and it is too loud for my kitchen.",
        "Returns are free within 30 days.\n1. Print the label from your account page.\n2. Pack the {p} in its box.\n"
        "3. Drop it at any post office; we refund order {n} when it arrives.",
    ),
)


def templated(rng: random.Random, i: int) -> dict:
    ask, reply = rng.choice(TOPICS)
    slots = {"n": f"#{rng.randint(100000, 999999)}", "p": rng.choice(PRODUCTS), "d": rng.choice(DAYS)}
    user = f"{rng.choice(GREETINGS)} {ask.format(**slots)} {rng.choice(SIGNOFFS)}"
    answer = (
        f"Hello, and thanks for contacting Acme Support. {reply.format(**slots)}\nBest regards, the Acme Support team"
    )
    return _chat(user, answer)


def _near_edit(rng: random.Random, record: dict) -> dict:
    """Return a light edit of an example: one word of its user turn changed, one word added to its answer."""
    user, answer = record["messages"][1]["content"], record["messages"][2]["content"]
    words = user.split()
    words[rng.randrange(len(words))] = rng.choice(WORDS)
    return _chat(" ".join(words), answer + " Thanks!")


def _long(rng: random.Random, i: int) -> dict:
    """Build a conversation of 40-80 turns, each a few sentences: thousands of tokens."""
    messages = [{"role": "system", "content": SYSTEM}]
    for turn in range(rng.randint(20, 40)):
        messages.append({"role": "user", "content": " ".join(sentence(rng, 12) for _ in range(rng.randint(2, 6)))})
        messages.append({"role": "assistant", "content": " ".join(sentence(rng, 12) for _ in range(rng.randint(2, 6)))})
    return {"messages": messages}


SHAPES = ("varied", "templated", "duplicates", "near", "longtail")


def records(shape: str, n: int, seed: int = 0):
    rng = random.Random(seed)
    if shape == "varied":
        for i in range(n):
            yield example(rng, i)
    elif shape == "templated":
        for i in range(n):
            yield templated(rng, i)
    elif shape == "duplicates":
        pool = [example(rng, i) for i in range(max(1, n // 5))]
        for _ in range(n):
            yield rng.choice(pool)
    elif shape == "near":
        kept: list[dict] = []
        for i in range(n):
            if kept and rng.random() < 0.1:
                yield _near_edit(rng, rng.choice(kept))
                continue
            record = example(rng, i)
            if len(kept) < 10_000:  # the near-duplicates' originals: spread over the file, not only its start
                kept.append(record)
            else:
                kept[rng.randrange(len(kept))] = record
            yield record
    elif shape == "longtail":
        for i in range(n):
            yield _long(rng, i) if rng.random() < 0.002 else example(rng, i)
    else:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")


def write_file(path: Path, shape: str, n: int, seed: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for record in records(shape, n, seed):
            fh.write(json.dumps(record) + "\n")
    return path


def write_chat_file(path: Path, n: int, seed: int = 0) -> Path:
    return write_file(path, "varied", n, seed)
