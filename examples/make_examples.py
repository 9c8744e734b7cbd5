"""Generate examples/support_chat.jsonl: Larkspur Cycles' support conversations in OpenAI chat JSONL.

Deterministic (seeded): `python examples/make_examples.py` rewrites the committed file byte for byte, and
`--check` exits 1 if the committed file differs from what this script generates. Before writing, it checks
that every fact the answers quote appears word for word in its help-centre page (see facts.py).

The house style of every assistant turn: a greeting with the customer's first name, a one-line summary,
numbered steps, and the sign-off "Happy riding, / The Larkspur Crew".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from random import Random

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules: this script runs without tunewise installed

from chat_topics import TOPICS, Topic  # noqa: E402
from facts import FACTS, PLANS, WORKSHOPS  # noqa: E402

SEED = 10  # issue 10
OUT = HERE / "support_chat.jsonl"
HELPCENTRE = HERE / "helpcentre"
SYSTEM = (
    "You are the support assistant for Larkspur Cycles, a bike subscription and repair company with "
    "workshops in Bristol, Leeds and Manchester."
)
SIGN_OFF = "Happy riding,\nThe Larkspur Crew"
# Word-trigram Jaccard above which a new conversation's user turns count as too close to an earlier one of the
# same topic; well under the validator's 0.75 near-duplicate threshold, so none get near it.
MAX_SIMILARITY = 0.5
FOLLOWUP_SHARE = 0.45  # of conversations in topics that have follow-ups
SHORT_SHARE = 0.2  # of conversations that are a bare one-liner

NAMES = """Aisha Alfie Amara Amir Aoife Arjun Bethan Bilal Callum Carys Chidi Chloe Ciaran Dafydd Daniel Deepa Dev
Eilidh Elena Emeka Erin Fatima Finn Freya Gareth Grace Hamza Hannah Harvey Ifeoma Imran Isla Jack Jade Jamal Jas
Joanna Jonah Kasia Keisha Kieran Laila Leon Lewis Lucy Maja Marcus Mared Maryam Mateusz Megan Mei Mohammed Nadia
Niamh Nikhil Oisin Olu Omar Oscar Paige Pavel Priya Rachel Rhys Rosa Ruth Ryan Sadia Sam Sanjay Sean Shauna Simone
Siobhan Sofia Stefan Tariq Tasha Theo Tom Tomasz Una Vikram Wendy Will Yasmin Yusuf Zainab Zara Zoe Ade Bronwen
Caitlin Declan Efe Gemma Hollie Ibrahim Jess Kofi Liam Malik Noor Orla Parveen Rafael Saoirse Toby Uzma Vera Wojtek"""
NAMES = NAMES.split()

PLAN_SAID = {
    "Commuter": ["Commuter plan", "commuter sub", "basic city bike plan", "Commuter"],
    "Commuter Plus": ["Commuter Plus", "commuter plus plan", "Plus plan"],
    "E-Ride": ["E-Ride", "e-bike plan", "ebike subscription", "E-Ride sub"],
    "Cargo": ["Cargo plan", "cargo bike sub", "cargo subscription"],
    "Kids Grow": ["Kids Grow plan", "kids grow sub", "kids' bike plan"],
}
BIKE_SAID = {
    "Metro 7": ["bike", "Metro 7", "city bike", "Metro"],
    "Volt": ["e-bike", "Volt", "ebike", "electric bike"],
    "Haul": ["cargo bike", "Haul", "box bike"],
    "Sprout": ["kid's bike", "Sprout", "son's bike", "daughter's bike"],
}
WHEN = ["yesterday", "last night", "this morning", "on Saturday", "an hour ago", "earlier today", "on Monday evening"]
SINCE = ["yesterday", "this morning", "the weekend", "Monday", "last week", "my ride home"]
PLACES = [
    "the station",
    "work",
    "the gym",
    "Tesco",
    "uni",
    "the library",
    "the hospital",
    "my office",
    "the pub",
    "the leisure centre",
    "the cinema",
    "my mate's flat",
]

OPENERS = [
    "Hi,",
    "Hello,",
    "Hey,",
    "Hiya!",
    "Good morning,",
    "Hi there,",
    "Hello team,",
    "Hi Larkspur,",
    "Evening,",
    "",
    "",
    "",
]
INTROS = [
    "{n} here.",
    "Hi, it's {n}.",
    "This is {n}.",
    "Hello, my name is {n}.",
    "Hey, {n} here -",
    "Hi there, I'm {n}.",
    "Morning, {n} here.",
    "Hi, {n} speaking.",
]
SIGNATURES = [
    "Thanks, {n}",
    "- {n}",
    "Cheers,\n{n}",
    "Many thanks,\n{n}",
    "{n}",
    "Ta, {n}",
    "Kind regards,\n{n}",
    "thx, {n}",
    "{n} x",
    "Best, {n}",
]
TONES = {  # tone -> (weight, lines before, lines after)
    "neutral": (40, [], ["Thanks.", "Cheers.", "", "", "Thanks in advance."]),
    "polite": (
        20,
        ["Hope you're well.", "Sorry to bother you.", "Quick question if that's OK.", "Hope you can help."],
        ["Thanks so much in advance.", "Really appreciate any help.", "Thank you!"],
    ),
    "annoyed": (
        15,
        [
            "Not impressed, to be honest.",
            "This is really frustrating.",
            "Honestly getting fed up.",
            "I'm not having a great week.",
        ],
        ["Please sort this out.", "I need an answer today.", "Not happy."],
    ),
    "worried": (
        10,
        ["Bit worried about this.", "Slightly panicking here.", "Not sure what to do."],
        ["Please let me know soon.", "Any help would be great.", ""],
    ),
    "terse": (15, [], [""]),
}
APOLOGY = {"annoyed": "I'm sorry this has been frustrating. ", "worried": "No need to worry. "}
# Questions that point back at the situation ("Is that covered?") only read well after it.
ANAPHORA = re.compile(r"\b(that|it|this|they|them|now|there)\b", re.I)
FOLLOWUP_LEADS = [
    "Thanks!",
    "ok great.",
    "Got it.",
    "Cool, thanks.",
    "Perfect, one more thing:",
    "",
    "That helps.",
    "Ah ok.",
]
SLANG = [
    (r"\byou\b", "u"),
    (r"\bplease\b", "pls"),
    (r"\bthanks\b", "thx"),
    (r"\bbecause\b", "cos"),
    (r"\bare\b", "r"),
    (r"\bI'm\b", "im"),
    (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"),
]


def fill(template: str, c: dict) -> str:
    return template.format(**c)


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def typos(text: str, rng: Random) -> str:
    """Real customers' typing: slang, a swapped or doubled letter, no capitals, no final full stop."""
    if rng.random() < 0.5:
        for pattern, short in rng.sample(SLANG, 3):
            text = re.sub(pattern, short, text, flags=re.I)
    words = text.split(" ")
    for _ in range(rng.choice([1, 1, 2])):
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) >= 5 and w.isalpha():
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.6 else w[:j] + w[j] + w[j:]
    text = " ".join(words)
    if rng.random() < 0.6:
        text = text.lower()
    return text.rstrip(".") if rng.random() < 0.7 else text


def least_used(rng: Random, items: list[str], used: dict[str, int]) -> str:
    low = min(used.get(i, 0) for i in items)
    pick = rng.choice([i for i in items if used.get(i, 0) == low])
    used[pick] = used.get(pick, 0) + 1
    return pick


def context(rng: Random, topic: Topic) -> dict:
    plan = rng.choice(topic.plans)
    price, bike, deposit, excess, value, callout = PLANS[plan]
    city = rng.choice(list(WORKSHOPS))
    ws, address, *_ = WORKSHOPS[city]
    c = {
        "name": rng.choice(NAMES),
        "plan": plan,
        "plan_said": rng.choice(PLAN_SAID[plan]),
        "price": price,
        "bike": bike,
        "bike_said": rng.choice(BIKE_SAID[bike]),
        "deposit": deposit,
        "excess": excess,
        "value": value,
        "callout": callout,
        "city": city,
        "ws": ws,
        "ws_address": address,
        "when": rng.choice(WHEN),
        "since": rng.choice(SINCE),
        "place": rng.choice(PLACES),
    }
    if topic.slots:
        topic.slots(rng, c)
    return c


def user_turn(rng: Random, topic: Topic, c: dict, used: dict[str, int]) -> str:
    """One customer message: the name somewhere in it, a tone, and the situation and question in either order."""
    tone = rng.choices(list(TONES), weights=[t[0] for t in TONES.values()])[0]
    c["tone"] = tone
    unused_shorts = [s for s in topic.shorts if not used.get(s)]
    if unused_shorts and rng.random() < SHORT_SHARE:
        body = [fill(least_used(rng, unused_shorts, used), c)]
        tone = c["tone"] = "terse"
    else:
        situation = sentence(fill(least_used(rng, topic.situations, used), c))
        ask = sentence(fill(least_used(rng, topic.asks, used), c))
        body = [ask, situation] if rng.random() < 0.25 and not ANAPHORA.search(ask) else [situation, ask]
    _, before, after = TONES[tone]
    parts = ([rng.choice(before)] if before and rng.random() < 0.7 else []) + body
    if after and tone != "terse":
        parts.append(rng.choice(after))
    text = " ".join(p for p in parts if p)
    if tone == "terse" or rng.random() < 0.3:
        text = typos(text, rng)
    n = c["name"]
    if rng.random() < 0.45:
        return f"{fill(rng.choice(INTROS), {'n': n})} {text}"
    opener = rng.choice(OPENERS) if tone != "terse" else ""
    signature = fill(rng.choice(SIGNATURES), {"n": n})
    return f"{opener} {text}\n{signature}".strip() if opener else f"{text}\n{signature}"


def assistant_turn(rng: Random, reply, c: dict, *, again: bool = False) -> str:
    summaries, steps = reply(c)
    summary = rng.choice(summaries)
    if not again and "sorry" not in summary.lower():  # the summary may already apologise
        summary = APOLOGY.get(c["tone"], "") + summary
    greeting = f"Hi again {c['name']}," if again else f"Hi {c['name']},"
    numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
    return f"{greeting}\n\n{summary}\n\n{numbered}\n\n{SIGN_OFF}"


def conversation(rng: Random, topic: Topic, used: dict[str, int]) -> dict:
    c = context(rng, topic)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_turn(rng, topic, c, used)},
        {"role": "assistant", "content": assistant_turn(rng, topic.reply, c)},
    ]
    if topic.followups and rng.random() < FOLLOWUP_SHARE:
        variants, reply = rng.choice(topic.followups)
        lead = rng.choice(FOLLOWUP_LEADS)
        question = least_used(rng, variants, used)
        text = f"{lead} {question}".strip()
        messages.append({"role": "user", "content": typos(text, rng) if rng.random() < 0.3 else text})
        c["tone"] = "neutral"
        messages.append({"role": "assistant", "content": assistant_turn(rng, reply, c, again=True)})
    return {"messages": messages, "metadata": {"topic": topic.name, "helpcentre": list(topic.pages)}}


def _trigrams(record: dict) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", " ".join(m["content"] for m in record["messages"] if m["role"] == "user").lower())
    return set(zip(words, words[1:], words[2:])) or {tuple(words)}


def generate(seed: int = SEED) -> list[dict]:
    """Every topic's conversations, each far from its topic's earlier ones, in a seeded shuffled order."""
    rng = Random(seed)
    records: list[dict] = []
    prompts: set[str] = set()
    for topic in TOPICS:
        used: dict[str, int] = {}
        shingles: list[set] = []
        for _ in range(topic.count):
            for _attempt in range(200):
                record = conversation(rng, topic, used)
                prompt = " ".join(
                    " ".join(m["content"].lower().split()) for m in record["messages"] if m["role"] != "assistant"
                )
                grams = _trigrams(record)
                if prompt not in prompts and all(len(grams & s) / len(grams | s) < MAX_SIMILARITY for s in shingles):
                    break
            else:
                raise SystemExit(
                    f"topic {topic.name}: could not write {topic.count} distinct conversations; add situations or asks"
                )
            prompts.add(prompt)
            shingles.append(grams)
            records.append(record)
    rng.shuffle(records)
    return records


def check_facts(helpcentre: Path = HELPCENTRE) -> list[str]:
    """Facts the answers quote that their help-centre page does not state word for word."""

    def page(name: str) -> str:
        return " ".join((helpcentre / name).read_text(encoding="utf-8").split())

    problems = [f"{key}: {text!r} is not in {name}" for key, (text, name) in FACTS.items() if text not in page(name)]
    plans, theft, shops = page("plans-and-prices.md"), page("theft.md"), page("workshops.html")
    for plan, (price, _, _, excess, value, _) in PLANS.items():
        if f"£{price} a month" not in plans:
            problems.append(f"{plan}: £{price} a month is not in plans-and-prices.md")
        if excess not in theft or value not in theft:
            problems.append(f"{plan}: excess {excess} or value {value} is not in theft.md")
    for city, (ws, address, *hours) in WORKSHOPS.items():
        for text in (ws, address, *(h if h != "closed" else "Closed" for h in hours)):
            if text not in shops:
                problems.append(f"{city}: {text!r} is not in workshops.html")
    return problems


def render(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the JSONL (default: beside this script)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--check", action="store_true", help="exit 1 if --out differs from what would be generated")
    args = parser.parse_args(argv)
    problems = check_facts()
    if problems:
        print("facts and help centre disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    text = render(generate(args.seed))
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'differs from the generator; rerun without --check'}")
        return 0 if same else 1
    write_atomic(args.out, text)
    print(f"wrote {text.count(chr(10))} conversations to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
