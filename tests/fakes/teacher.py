"""A fake teacher and judge for `tunewise synthesize`, answering the fake OpenAI server's chat completions.

It reads which of the three prompts it was sent (draft requests, draft an answer, judge a draft) and answers the
way a real model can go wrong too: mostly varied requests, but some copies of a seed it was shown, some repeats
within one reply, some light edits of held-out requests it should never have seen (`leak`), answers that miss the
house format, and judge scores that fail. Everything is a pure function of the request, so a re-run asks and
gets the same.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any, Callable

NAMES = [
    "Aoife",
    "Ravi",
    "Mia",
    "Tomasz",
    "Grace",
    "Kwame",
    "Lena",
    "Oscar",
    "Priya",
    "Sam",
    "Yusuf",
    "Hana",
    "Jonas",
    "Ines",
    "Dev",
    "Chloe",
    "Marek",
    "Zara",
    "Leo",
    "Nadia",
]
THINGS = [
    "chain",
    "front brake",
    "rear light",
    "battery",
    "saddle",
    "kickstand",
    "pedal",
    "bell",
    "rack",
    "mudguard",
    "charger",
    "gear cable",
    "tyre",
    "lock",
    "basket",
    "display",
    "crank",
    "spoke",
]
EVENTS = [
    "started squeaking",
    "snapped on the way to work",
    "stopped charging",
    "came loose",
    "got stolen",
    "was bent in a crash",
    "makes a grinding noise",
    "keeps slipping",
    "won't turn on",
    "cracked in the cold",
]
ASKS = [
    "Can someone come and fix it this week?",
    "Do I have to pay for that?",
    "How do I book a repair?",
    "Can I swap to another plan while it's fixed?",
    "Is that covered by Care+?",
    "What should I do now?",
    "Can I get a refund for the days I couldn't ride?",
    "Who do I call?",
    "How long will it take?",
]
PLACES = [
    "in Leeds",
    "near the Bristol workshop",
    "outside my office",
    "at the station",
    "in Manchester",
    "at home",
    "on the canal path",
    "at uni",
]


def _rng(*parts: Any) -> random.Random:
    return random.Random(hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest())


def _text(request: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.get("messages", []))


def draft_requests(prompt: str, leak: list[str]) -> str:
    count = int(re.search(r"Write (\d+) NEW requests", prompt).group(1))  # type: ignore[union-attr]
    shown = [
        json.loads(line.split(". ", 1)[1])
        for line in prompt.split("<<<requests>>>")[1].split("<<<end requests>>>")[0].strip().splitlines()
    ]
    rng = _rng(prompt)
    out: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05 and shown:
            out.append(rng.choice(shown))  # a copy of a seed it was shown
        elif roll < 0.09 and out:
            out.append(out[-1])  # a repeat within the reply
        elif roll < 0.13 and leak:
            text = rng.choice(leak)
            out.append(text.replace(".", "!", 1) if "." in text else text + "!")  # a light edit of held-out text
        else:
            out.append(_varied(rng))
    return json.dumps(out)


FRAMES = [
    "{name} here. My {thing} {event} {place}, {days} days after I got the bike. {ask}",
    "hey, quick one: {thing} {event} {place}?? {ask}",
    "Good morning. I am writing because the {thing} on my bike {event} yesterday {place}. {ask} Regards, {name}",
    "{ask} The {thing} {event}, I think because of the weather {place}.",
    "So annoyed. Second time this month the {thing} {event}. {ask} - {name}",
    "Hi team, {name} from the {plan} plan. Since {days} days ago my {thing} {event}. {ask}",
    "my {thing} {event} {place} and now I'm late for everything. {ask}",
    "Question about my {plan} subscription: the {thing} {event}. {ask} Thanks, {name}",
]
PLANS = ["Commuter", "Commuter Plus", "E-Ride", "Cargo", "Kids Grow"]


def _varied(rng: random.Random) -> str:
    return rng.choice(FRAMES).format(
        name=rng.choice(NAMES),
        thing=rng.choice(THINGS),
        event=rng.choice(EVENTS),
        ask=rng.choice(ASKS),
        place=rng.choice(PLACES),
        days=rng.randint(1, 28),
        plan=rng.choice(PLANS),
    )


def draft_answer(messages: list[dict]) -> str:
    request = str(messages[-1].get("content") or "")
    rng = _rng(request)
    name = request.split()[0] if request.split() else "there"
    if rng.random() < 0.06:  # the house format missed: prose, no steps
        return f"Hello {name}, sorry about that, we will sort it out soon. Just message us in the app."
    return (
        f"Hi {name},\n\nSorry about that; here's how we'll sort it.\n\n"
        f"1. Report it in the app under Bike > Report a problem.\n"
        f"2. We book a repair within {rng.randint(1, 3)} working days.\n"
        f"3. With Care+ the repair is free; without it, workshop labour rates apply.\n\n"
        "Happy riding,\nThe Larkspur Crew"
    )


def judge(prompt: str) -> str:
    answer = prompt.split("<<<draft answer>>>")[1].split("<<<end draft answer>>>")[0]
    rng = _rng(prompt)
    if "Happy riding" not in answer:
        return json.dumps({"score": 2, "reason": "misses the house format: no steps, no sign-off"})
    if rng.random() < 0.1:
        return json.dumps({"score": 3, "reason": "the repair time is not supported by the examples"})
    return json.dumps({"score": 5 if rng.random() < 0.5 else 4, "reason": "right facts, house format, friendly"})


def teacher(leak: Callable[[], list[str]] | None = None) -> Callable[[dict], str]:
    """Return a responder for FakeOpenAI.chat.responder; `leak()` gives held-out requests to echo now and then."""

    def respond(request: dict) -> str:
        text = _text(request)
        if "<<<requests>>>" in text:
            return draft_requests(text, leak() if leak else [])
        if "<<<draft request>>>" in text:
            return judge(text)
        return draft_answer(request["messages"])

    return respond


def held_out_requests(path: Path) -> list[str]:
    """Return the first user turns of a held-out file (for `leak`); [] until the file exists."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            msgs = json.loads(line)["messages"]
            out.append(next(m["content"] for m in msgs if m["role"] == "user"))
    return out
