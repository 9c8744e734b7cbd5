"""Counts in a goal text: which number is the training-example count, which a request volume or a document count.

People write many numbers that count nothing we need ("a one-line summary", "three weeks of prompt work",
"answers under 200 words", "version 2 of the API"). A number counts data only when it is attached to a data
noun ("8,000 of her conversations", "2k question/SQL pairs"), and when several are, the most specific wins:
curated data ("1,200 reviewed answers") over raw, an exact figure over "hundreds", then the largest.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
          "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1}
_VAGUE = {"a handful": 5, "a couple": 2, "a few": 3, "several": 5, "a dozen": 12, "dozens": 36, "hundreds": 200,
          "thousands": 2000, "tens of thousands": 20000}
_SCALE = {"hundred": 100, "thousand": 1000, "k": 1000, "million": 1_000_000, "m": 1_000_000}

_NUMBER = re.compile(
    r"(?<![\w$€£.])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(?P<scale>k|m|thousand|million|hundred)?(?![\w%])\+?"
    r"|(?P<vague>tens of thousands|a handful|a couple|a few|several|a dozen|dozens|hundreds|thousands)"
    r"(?:\s+(?:of\s+)?(?P<vscale>hundred|thousand))?"
    r"|\b(?P<word>(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen"
    r"|eighteen|nineteen|a|an)(?:\s+(?P<wscale>hundred|thousand))?\b",
    re.I,
)


def _value(m: re.Match) -> int | None:
    if m.group("num"):
        value = float(m.group("num").replace(",", ""))
        return int(value * _SCALE.get((m.group("scale") or "").lower(), 1))
    if m.group("vague"):
        base = _VAGUE[m.group("vague").lower()]
        scale = m.group("vscale")
        if scale:  # "a few hundred" is 3 x 100, "hundreds of thousands" 200 x 1000
            base = (base if base < 100 else base // 100 if scale == "hundred" else base) * _SCALE[scale]
        return base
    word = m.group("word").lower()
    parts = re.split(r"[- ]", word)
    value = sum(_UNITS[p] for p in parts)
    if m.group("wscale"):
        return value * _SCALE[m.group("wscale").lower()]
    return None if word in ("a", "an") else value  # a bare "a" is an article, not a count


# Nouns that name training examples; documents, pages and files are knowledge, not examples of behaviour.
_EXAMPLE_NOUNS = (r"examples?|samples?|conversations?|convos?|chats?|chat logs?|dialog(?:ue)?s?|transcripts?|tickets?"
                  r"|pairs?|answers?|replies|reply|responses?|emails?|messages?|summaries|summary|records?|rows?"
                  r"|demonstrations?|completions?|q&as?|qa pairs?|instances|items|threads?|translations?|comments?"
                  r"|descriptions?|reviews?|letters?|notes?|posts?|reports?|calls?|logs?|outputs?|labels?|them|those|these")
_DOC_NOUNS = r"documents?|docs?|pages?|pdfs?|files?|articles?|manuals?|policies|wiki pages?"
_VOLUME_NOUNS = r"requests?|queries|questions|calls|users|sessions|visitors|api calls|interactions"  # counted only with a rate
# What a number measures when it is not data: time, length, layout, people, versions. One of these between the
# number and a data noun ends the match: "three weeks of our replies" is a duration, "200 words" a length.
_MEASURES = (r"seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|yrs?|quarters?|sprints?|times|percent"
             r"|words?|tokens?|characters?|chars?|lines?|sentences?|paragraphs?|bullets?|points?|steps?|sections?"
             r"|versions?|people|persons|agents|staff|engineers|writers|members|employees|annotators|reviewers"
             r"|languages?|categories|classes|fields?|columns?|gpus?|models?|parameters|params|stars?|levels?|tiers?")
# Function words: a noun phrase "300 hand-checked support tickets" holds none, so they end the match too.
_STOP = (r"the|a|an|of|to|in|on|at|for|with|by|from|per|each|every|is|are|was|were|be|been|have|has|had|and|or|but"
         r"|than|as|into|over|under|about|that|which|who|it|its|it's|we|we're|we've|our|they|their|this|more|less|most"
         r"|up|out|so|if|then|i|you|he|she|his|her|my|your|not|no|will|would|can|could|should|must|may|might|do|does"
         r"|did|just|only|also|all|after|before|within|below|above|took|take|make|made|want|need|use|used|using")
_MOD = rf"(?!(?:{_STOP}|{_MEASURES})\b)[a-z][a-z'/&-]*"
_DATA = rf"(?P<ex>{_EXAMPLE_NOUNS})|(?P<doc>{_DOC_NOUNS})|(?P<vol>{_VOLUME_NOUNS})"
# "8,000 of her conversations", "3,200 of them", "hundreds of tickets", "300 letters", "2k question/SQL pairs",
# "800 reviewed PRs as examples".
_NOUN = re.compile(
    rf"\s*(?:of\s+(?:(?:her|his|our|their|the|these|those|my|your|its)\s+)?(?:{_MOD}\s+)?"
    rf"|(?:(?:{_MOD})\s+){{0,3}}?(?:(?:{_MOD})\s+as\s+(?:training\s+)?(?=examples?\b))?)(?:{_DATA})\b")
# Words right before a number that make it a label, a rank or a model name, not a count: "version 2", "GPT-4".
_LABEL = re.compile(r"(?:\b(?:versions?|v|ver|step|steps|chapter|section|page|tier|level|phase|round|number|no|gpt|llama"
                    r"|python|top|rule|item|option|part|figure|table|day|week|month|year|q[1-4]?|iso|article)"
                    r"|(?<!\d)[-#])\s*\.?\s*$")
# A count per item is a format spec ("3 bullet points per reply", "one summary at the top of each reply").
_SPEC = re.compile(r"\s*(?:per|for each|for every|in each|in every|on each|each|at the (?:top|bottom|start|end|beginning))\b")
# "It should write two replies" asks for output; "we have / our / trained on 300 replies" states data.
_WISH = re.compile(r"\b(?:want|wants|wanted|need|needs|should|must|would like|'d like|like it to|expect|generate|produce"
                   r"|output|return|give|limit|cap|keep it|write|draft)\b")
_HAVE = re.compile(r"\b(?:have|has|had|'ve|got|collected|gathered|labell?ed|annotated|wrote|written|saved|exported"
                   r"|logged|there are|there's|exist|own|archive\w*|train\w*|tun\w*)\b(?! to\b)")
_OWNED = re.compile(r"\b(?:our|my|her|his|their|these|those|on|from|using|with)\s+(?:\w+\s+)?$")
# "10,000 edited articles" are examples of the wanted writing, not a knowledge base; curated data is also the more
# specific mention when a text gives several counts.
_CURATED = re.compile(r"\b(edited|written|reviewed|approved|annotated|labell?ed|gold|curated|corrected|translated"
                      r"|human[- ]written|ideal|perfect|hand[- ]\w+|vetted|checked|verified|best|good|high[- ]quality)\b")
_RATE = re.compile(r"^\W*(?:\w+\s+){0,2}?(?:a|per|each|every|/)\s*(day|week|month|year)\b|^\W*(?:\w+\s+){0,2}?(daily|weekly|monthly|yearly)\b")
_PER_MONTH = {"day": 30, "daily": 30, "week": 4.3, "weekly": 4.3, "month": 1, "monthly": 1, "year": 1 / 12, "yearly": 1 / 12}
_NO_DATA = re.compile(
    r"\b(?:no|zero|without any|without)\s+(?:\w+\s+)?(?:training\s+)?(?:data|examples|dataset|samples|labell?ed data)\b"
    r"|\b(?:don'?t|do not|doesn'?t|haven'?t)\s+(?:yet\s+)?(?:have|got|collected|gathered)\s+(?:any\s+)?(?:\w+\s+)?(?:data|examples|dataset)\b"
    r"|\bnothing (?:labell?ed|collected)\b")
_SENTENCE_END = re.compile(r"[.;!?:](?:\s|$)")
_CLAUSE_END = re.compile(r"[,;:.!?]|\s(?:and|but|while|so|because)\s")


class Mention(NamedTuple):
    kind: str  # "examples", "documents" or "requests_per_month"
    value: int
    rank: tuple  # for examples: (curated, exact, value); the largest rank is the most specific mention


def _standalone(low: str, m: re.Match) -> bool:
    """True when the number counts something rather than naming or measuring it."""
    before = low[:m.start()]
    if _LABEL.search(before) or re.match(r"-[a-z]", low[m.end():]):  # "version 2", "a one-line summary", "200-page"
        return False
    return True


def _wished(low: str, start: int, end: int) -> bool:
    """True for output asked for ("it should draft two replies") rather than data held ("we have 300 replies",
    "fine-tune on our 300 replies", "the 300 replies we saved"): the nearer of a wish and a having verb decides."""
    sentence = max((e.end() for e in _SENTENCE_END.finditer(low, 0, start)), default=0)
    before = low[sentence:start]
    wish = [w.end() for w in _WISH.finditer(before)]
    if not wish or _OWNED.search(before):
        return False
    have = [h.end() for h in _HAVE.finditer(before)]
    clause_end = next((e.start() for e in _CLAUSE_END.finditer(low, end)), len(low))
    return (not have or have[-1] < wish[-1]) and not _HAVE.search(low, end, clause_end)


def mentions(text: str) -> list[Mention]:
    """Every count in `text` that is attached to a data noun, a document noun, or a volume with a rate."""
    low = text.lower()
    out: list[Mention] = []
    for m in _NUMBER.finditer(low):
        value = _value(m)
        if value is None or not _standalone(low, m):
            continue
        noun = _NOUN.match(low, m.end())
        if not noun:
            continue
        rest = low[noun.end():]
        rate = _RATE.match(rest)
        if rate:
            out.append(Mention("requests_per_month", int(value * _PER_MONTH[rate.group(1) or rate.group(2)]), ()))
            continue
        if noun.group("vol") or _SPEC.match(rest):
            continue
        if _wished(low, m.start(), noun.end()):
            continue
        end = next((e.start() for e in _CLAUSE_END.finditer(low, noun.end())), len(low))
        curated = bool(_CURATED.search(low[m.end():end]))
        if noun.group("ex") or curated:
            out.append(Mention("examples", value, (curated, bool(m.group("num") or m.group("word")), value)))
        else:
            out.append(Mention("documents", value, ()))
    return out


def best_examples(text: str) -> Mention | None:
    """The most specific example count in `text`; "no data yet" is a count of 0, the least specific."""
    found = [x for x in mentions(text) if x.kind == "examples"]
    if found:
        return max(found, key=lambda x: x.rank)
    return Mention("examples", 0, (False, False, -1)) if _NO_DATA.search(text.lower()) else None


def counts(text: str) -> dict:
    """Training-example count, request volume and document count stated in `text` (keys present when found)."""
    out: dict = {}
    for x in mentions(text):
        if x.kind != "examples":
            out.setdefault(x.kind, x.value)
    best = best_examples(text)
    if best is not None:
        out["examples"] = best.value
    return out


def numbers(text: str) -> list[int]:
    """Every count written in `text`, in order ("about 1.2k", "a few hundred", "twenty"), less labels and measures
    ("version 2", "for 2 weeks"): what is left answers "how many examples?"."""
    low = text.lower()
    return [v for m in _NUMBER.finditer(low) if (v := _value(m)) is not None and _standalone(low, m)
            and not re.match(rf"\s*(?:{_MEASURES})\b", low[m.end():])]


def percent(text: str) -> int | None:
    m = re.search(r"(\d{1,3})\s?%|(\d{1,3}) per ?cent", text)
    return int(m.group(1) or m.group(2)) if m else None
