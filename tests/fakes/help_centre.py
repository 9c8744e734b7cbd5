"""Thirty help-centre pages of a made-up bike shop, written to a folder: a realistic collection for context budgets.

Pages run from about 120 to 260 words, so with the default 400-token chunks each is one passage of a few hundred
tokens: three of them already overflow a 512-token model.
"""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = (
    "returns",
    "refunds",
    "shipping",
    "warranty",
    "sizing",
    "brakes",
    "gears",
    "tyres",
    "chains",
    "saddles",
    "lights",
    "locks",
    "helmets",
    "e-bike batteries",
    "charging",
    "servicing",
    "gift cards",
    "orders",
    "payments",
    "invoices",
    "accounts",
    "passwords",
    "newsletters",
    "stores",
    "opening hours",
    "test rides",
    "financing",
    "trade-ins",
    "rentals",
    "insurance",
)
_WORDS = (
    "your order the bike we you can within days of delivery a receipt please contact our team store online "
    "parts labour is covered by warranty unless damage from misuse frame wheel battery charger replace repair "
    "free standard express tracking number account email reset link minutes hours weekdays weekends"
).split()


def write_pages(folder: Path, *, seed: int = 0) -> Path:
    """Write one Markdown page per topic into `folder`; return it."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, topic in enumerate(TOPICS):
        sentences = []
        for _ in range(rng.randint(12, 22)):
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 14)))
            sentences.append(f"{words.capitalize()}.")
        body = f"# {topic.capitalize()}\n\nThis page explains {topic}. " + " ".join(sentences) + "\n"
        (folder / f"{i:02d}-{topic.replace(' ', '-')}.md").write_text(body, encoding="utf-8")
    return folder
