"""Counts in a goal text: which number is the training-example count, which a request volume or a document count.

People write many numbers that count nothing we need ("a one-line summary", "three weeks of prompt work",
"answers under 200 words", "version 2 of the API"). A number counts data only when it is attached to a data
noun ("8,000 of her conversations", "2k question/SQL pairs"), and when several are, the most specific wins:
curated data ("1,200 reviewed answers") over raw, an exact figure over "hundreds", then the largest.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from agent.interviewer.scores import spelled_out  # "eighty percent": dictated and formal texts say shares in words

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a": 1,
    "an": 1,
}
_VAGUE = {
    "a handful": 5,
    "a couple": 2,
    "a few": 3,
    "several": 5,
    "a dozen": 12,
    "dozens": 36,
    "hundreds": 200,
    "thousands": 2000,
    "tens of thousands": 20000,
}
_SCALE = {"dozen": 12, "hundred": 100, "thousand": 1000, "k": 1000, "million": 1_000_000, "m": 1_000_000}

_NUMBER = re.compile(
    r"(?<![\w$€£./])(?P<num>\d+,\d{1,2}(?=\s?(?:k|m|thousand|million)\b)|\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+(?![\d,.])"
    r"|\d{1,3}(?:\.\d{3})+(?![\d,.]|\s?(?:k|m|thousand|million)\b)|\d+(?:\.\d+)?)\s?(?P<scale>k|m|thousand|million|hundred)?(?![\w%/-])\+?"
    r"|(?P<vague>tens of thousands|a handful|a couple|a few|several|a dozen|dozens|hundreds|thousands)"
    r"(?:\s+(?:of\s+)?(?P<vscale>hundred|thousand))?"
    r"|\b(?P<word>(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen"
    r"|eighteen|nineteen|a|an)(?:\s+(?P<wscale>hundred|thousand|dozen))?\b",
    re.I,
)


def _value(m: re.Match) -> int | None:
    if m.group("num"):
        num = m.group("num")
        if re.fullmatch(r"\d+,\d{1,2}", num):  # "1,2 million": a decimal comma
            num = num.replace(",", ".")
        elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", num):  # "18.000 work orders": dots group thousands
            num = num.replace(".", "")
        value = float(num.replace(",", "").replace(" ", ""))
        return int(value * _SCALE.get((m.group("scale") or "").lower(), 1))
    if m.group("vague"):
        base = _VAGUE[m.group("vague").lower()]
        scale = m.group("vscale")
        if scale:  # "a few hundred" is 3 x 100, "hundreds of thousands" 200 x 1000
            base = (base if base < 100 else base // 100 if scale == "hundred" else base) * _SCALE[scale]
        return base
    word = m.group("word").lower()
    parts = re.split(r"[- ]", word)
    count = sum(_UNITS[p] for p in parts)
    if m.group("wscale"):
        return count * _SCALE[m.group("wscale").lower()]
    return None if word in ("a", "an") else count  # a bare "a" is an article, not a count


# Nouns that name training examples; documents, pages and files are knowledge, not examples of behaviour.
_EXAMPLE_NOUNS = (
    r"examples?|samples?|conversations?|convos?|chats?|chat logs?|dialog(?:ue)?s?|transcripts?|tickets?"
    r"|pairs?|answers?|replies|reply|responses?|emails?|messages?|summaries|summary|records?|rows?"
    r"|demonstrations?|completions?|q&as?|qa pairs?|instances|items|threads?|translations?|comments?"
    r"|descriptions?|reviews?|letters?|notes?|posts?|reports?|calls?|logs?|outputs?|them|those|these"
)
_DOC_NOUNS = r"documents?|docs?|pages?|pdfs?|files?|articles?|manuals?|policies|wiki pages?"
_VOLUME_NOUNS = (
    r"requests?|queries|questions|calls|users|sessions|visitors|api calls|interactions"  # counted only with a rate
)
# What a number measures when it is not data: time, length, layout, people, versions. One of these between the
# number and a data noun ends the match: "three weeks of our replies" is a duration, "200 words" a length.
_MEASURES = (
    r"seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|yrs?|quarters?|sprints?|times|percent"
    r"|words?|tokens?|characters?|chars?|lines?|sentences?|paragraphs?|bullets?|points?|steps?|sections?"
    r"|versions?|people|persons|agents|staff|engineers|writers|members|employees|annotators|reviewers"
    r"|languages?|categories|classes|fields?|columns?|gpus?|models?|parameters|params|stars?|levels?|tiers?"
)
# Function words: a noun phrase "300 hand-checked support tickets" holds none, so they end the match too.
_STOP = (
    r"the|a|an|of|to|in|on|at|for|with|by|from|per|each|every|is|are|was|were|be|been|have|has|had|and|or|but"
    r"|than|as|into|over|under|about|that|which|who|it|its|it's|we|we're|we've|our|they|their|this|more|less|most"
    r"|up|out|so|if|then|i|you|he|she|his|her|my|your|not|no|will|would|can|could|should|must|may|might|do|does"
    r"|did|just|only|also|all|after|before|within|below|above|took|take|make|made|want|need|use|used|using|since|until"
    r"|till|during|through|across|via|like|such|among|amongst|including|except|besides|plus|versus|vs"
)
_STOP_ALT = _STOP
_MOD = rf"(?!(?:{_STOP})(?![a-z'/&-]))(?!(?:{_MEASURES})(?![a-z'/&-])(?!\s+(?:pairs?|examples?|samples?|translations?)\b))[a-z][a-z'/&-]*"
_DATA = rf"(?P<ex>{_EXAMPLE_NOUNS})|(?P<doc>{_DOC_NOUNS})|(?P<vol>{_VOLUME_NOUNS})"
# "8,000 of her conversations", "3,200 of them", "hundreds of tickets", "300 letters", "2k question/SQL pairs",
# "800 reviewed PRs as examples".
_NOUN = re.compile(
    rf"\s*(?:(?:lines?\s+)?of\s+(?:(?:her|his|our|their|the|these|those|my|your|its)\s+)?(?:{_MOD}\s+)?"
    rf"|(?:(?:{_MOD})\s+){{0,3}}?(?:(?:{_MOD})\s+as\s+(?:training\s+)?(?=examples?\b))?)(?:{_DATA})\b"
)
# Words right before a number that make it a label, a rank or a model name, not a count: "version 2", "GPT-4".
_LABEL = re.compile(
    r"(?:\b(?:versions?|v|ver|step|steps|chapter|section|page|tier|level|phase|round|number|no|gpt|llama"
    r"|python|top|rule|item|option|part|figure|table|day|week|month|year|q[1-4]?|iso|article)"
    r"|(?<!\d)[-#])\s*\.?\s*$"
)
# A count per item is a format spec ("3 bullet points per reply", "one summary at the top of each reply").
_SPEC = re.compile(
    r"\s*(?:per|for each|for every|in each|in every|on each|each|at the (?:top|bottom|start|end|beginning))\b"
)
# "It should write two replies" asks for output; "we have / our / trained on 300 replies" states data.
_WISH = re.compile(
    r"\b(?:want|wants|wanted|need|needs|should|must|would like|'d like|like it to|expect|generate|produce"
    r"|output|return|give|limit|cap|keep it|write|draft)\b"
)
_HAVE = re.compile(
    r"\b(?:have|has|had|'ve|got|collected|gathered|labell?ed|annotated|wrote|written|saved|exported"
    r"|logged|there are|there's|exist|own|archive\w*|train\w*|tun\w*)\b(?! to\b)"
)
_OWNED = re.compile(r"\b(?:our|my|her|his|their|these|those|on|from|using|with)\s+(?:\w+\s+)?$")
# "10,000 edited articles" are examples of the wanted writing, not a knowledge base; curated data is also the more
# specific mention when a text gives several counts.
_CURATED = re.compile(
    r"\b(edited|written|reviewed|approved|annotated|labell?ed|gold|curated|corrected|translated|answered|resolved"
    r"|human[- ]written|ideal|perfect|hand[- ]\w+|vetted|checked|verified|best|good|high[- ]quality)\b"
)
# Nouns a number counts that are never training data: people, places, a taxonomy's size, money, hardware.
# "3 support agents", "14 restaurants", "our 40 categories", "$20", "8 GPUs" are context, not examples.
_NOT_DATA = (
    r"agents?|reps?|users?|customers?|clients?|employees?|engineers?|devs?|developers?|writers?|founders?|doctors?"
    r"|physicians?|lawyers?|attorneys?|analysts?|annotators?|moderators?|buyers?|students?|teachers?|partners?"
    r"|members?|people|persons?|staff|teams?|seats?|accountants?|pharmacists?|nurses?|technicians?|editors?"
    r"|authors?|coders?|radiologists?|translators?|managers?|leads?|seniors?|interns?|volunteers?|donors?"
    r"|tenants?|players?|passengers?|drivers?|patients?|dispatchers?|experts?|specialists?|lawyers?|humans?"
    r"|stores?|shops?|restaurants?|hotels?|offices?|locations?|branches|sites?|countries|regions?|cities|city"
    r"|warehouses?|hospitals?|clinics?|schools?|companies|company|brands?|departments?|markets?|channels?"
    r"|categories|category|classes|class|labels?|codes?|genres?|intents?|tags?|types?|fields?|columns?"
    r"|factors?|slots?|aspects?|topics?|languages?|sections?|steps?|parts?|points?|rules?|criteria|dimensions?"
    r"|options?|levels?|tiers?|grades?|products?|skus?|features?|services?|apis?|endpoints?|tools?|apps?"
    r"|dollars?|euros?|usd|eur|gbp|cents?|bucks|gpus?|models?|servers?|nodes?|machines?|instances?|cores?"
    r"|parameters|params|billion|gb|tb|mb|ms|x|times|percent|stars?|digits?|pages?|hours|days|weeks|months"
    r"|years|minutes|seconds|releases?|versions?|sprints?|quarters?|shifts?|calls|requests?|queries|sessions?"
    r"|visitors?|interactions?|installs?|downloads?|orders?|tokens?|words?|characters?|lines?|sentences?"
    r"|paragraphs?|bullets?|times?|ways?|things?|more|others?|ones?|kinds?|sorts?|domains?"
)
# A taxonomy noun counts data only when labelled work is said: "60 intents" is a taxonomy, "2,000 labelled intents" data.
_TAXONOMY = re.compile(
    r"^(?:categories|category|classes|class|labels?|codes?|genres?|intents?|tags?|types?|aspects?"
    r"|topics?)$"
)
_HEAD = r"(?!(?:\w+ed|" + _STOP_ALT + r")\b)[a-z][a-z'/&-]*"
# Any noun phrase after a number, its head the last word before a function word, a participle or punctuation:
# "400 past NDAs", "2,400 filings annotated by ...", "25,000 corrected titles from ...".
_GENERIC = re.compile(
    rf"\s*(?:of\s+(?:(?:her|his|our|their|the|these|those|my|your|its)\s+)?)?(?P<mods>(?:{_MOD}\s+){{0,3}})"
    rf"(?P<head>{_HEAD})(?=\s*$|\s*[^\w\s'/&-]|\s+(?:{_STOP}|\w+ed|\w+en)\b)"
)
_CURATED_WORDS = (
    r"edited|written|reviewed|approved|annotated|labell?ed|gold|curated|corrected|translated|vetted|checked"
    r"|verified|graded|tagged|coded|rated|resolved|hand[- ]\w+"
)
# Adjectives that pick the usable part out of a larger heap: "a dozen good ones, most of our 40k commits are 'wip'".
_GOOD_WORDS = (
    r"good|clean|usable|useful|solid|decent|proper|great|high[- ]quality|quality|gold|perfect|ideal|correct|real"
)
# "2k labeled." and "~250 have a summary written by a human": the count of curated items with the noun left out.
_BARE_CURATED = re.compile(
    rf"\s*(?:{_CURATED_WORDS})\b(?=\s*(?:$|[.,;:!?)]))"
    rf"|\s*(?:of them\s+)?(?:have|has|are|were|come with|came with)\b[^.;,]*?\b(?:{_CURATED_WORDS}|{_GOOD_WORDS})\b"
)
# "Our reports (around 2,000, written ...)": a count in brackets right after the noun it counts.
_PAREN = re.compile(r"([a-z][a-z'-]*)\s*\(\s*(?:about|around|roughly|approx\w*|~|maybe|some|over|nearly)?\s*~?$")
# Examples shown in a prompt are few-shot examples, not training data: "we tried GPT-4.1 with 5 examples",
# "a prompt with 3 examples", "10 examples in the prompt", "20 few-shot examples".
_FEW_SHOT_BEFORE = re.compile(
    r"\b(?:prompt\w*|tried|trying|try|gave|give|giving|added|adding|put|pasted|few[- ]shot"
    r"|in-context|instructions)\b"
)
_FEW_SHOT_AFTER = re.compile(
    r"^\s*(?:[\w-]+\s+){0,3}?(?:in|into|inside)\s+(?:the|our|a|my|every|each)\s+(?:\w+\s+)?"
    r"(?:prompts?|context|requests?|calls?)\b"
)
_CLAUSE_START = re.compile(r"[.;!?,:)](?:\s+|$)|\(|\s(?:and|but|while|so|because|then)\s")
_RATE = re.compile(
    r"^\W*(?:\w+\s+){0,2}?(?:a|per|each|every|/)\s*(day|week|month|year)\b|^\W*(?:\w+\s+){0,2}?(daily|weekly|monthly|yearly)\b"
)
_PER_MONTH = {
    "day": 30,
    "daily": 30,
    "week": 4.3,
    "weekly": 4.3,
    "month": 1,
    "monthly": 1,
    "year": 1 / 12,
    "yearly": 1 / 12,
}
_NO_DATA = re.compile(
    r"\b(?:no|zero|without any|without)\s+(?:\w+\s+)?(?:training\s+)?(?:data|examples|dataset|samples|labell?ed data)\b"
    r"|\b(?:don'?t|do not|doesn'?t|haven'?t)\s+(?:yet\s+)?(?:have|got|collected|gathered)\s+(?:any\s+)?(?:\w+\s+)?(?:data|examples|dataset)\b"
    r"|\bnothing (?:labell?ed|collected|annotated)\b|\bnone (?:of (?:it|them) )?(?:is |are )?(?:labell?ed|annotated|reviewed|tagged)\b"
    r"|\bno (?:labell?ed|annotated|curated|clean|good) (?:\w+ )?(?:data|examples|ones|items|tickets|emails)\b|\bno (?:labels|annotations|gold answers)\b"
)
_SENTENCE_END = re.compile(r"[.;!?:](?:\s|$)")
_CLAUSE_END = re.compile(r"[,;:.!?]|\s(?:and|but|while|so|because)\s")


class Mention(NamedTuple):
    """A number in the text and what it counts."""

    kind: str  # "examples", "documents" or "requests_per_month"
    value: int
    rank: tuple  # for examples: (curated: 0, 1, or 2 for "the good ones" of a heap, exact, a listed data noun, value);
    # the largest is the most specific


def _standalone(low: str, m: re.Match) -> bool:
    """Return True when the number counts something rather than naming or measuring it."""
    before = low[: m.start()]
    if _LABEL.search(before) or re.match(r"-[a-z]", low[m.end() :]):  # "version 2", "a one-line summary", "200-page"
        return False
    return True


# "JSON output, 5k examples, prompt fails": in a list of fragments each fragment is its own statement.
_LIST_LIKE = re.compile(r"^[^,]{1,40},\s+(?:[^,]{1,40},\s+)*$")


def _wished(low: str, start: int, end: int) -> bool:
    """Return True for output asked for ("it should draft two replies") rather than data held ("we have 300
    replies", "fine-tune on our 300 replies", "the 300 replies we saved"): the nearer of a wish and a having verb
    decides.
    """
    sentence = max((e.end() for e in _SENTENCE_END.finditer(low, 0, start)), default=0)
    sentence = (
        max((e.end() for e in re.finditer(r",\s+", low[:start])), default=0)
        if _LIST_LIKE.match(low[sentence:start])
        else sentence
    )
    before = low[sentence:start]
    wish = [w.end() for w in _WISH.finditer(before)]
    if not wish or _OWNED.search(before):
        return False
    have = [h.end() for h in _HAVE.finditer(before)]
    clause_end = next((e.start() for e in _CLAUSE_END.finditer(low, end)), len(low))
    return (not have or have[-1] < wish[-1]) and not _HAVE.search(low, end, clause_end)


def _few_shot(low: str, start: int, end: int, mods: str) -> bool:
    """Return True when the counted examples were shown in a prompt rather than held as training data."""
    if re.search(r"few[- ]shot|\bshots?\b", mods):
        return True
    sentence = max((e.end() for e in _SENTENCE_END.finditer(low, 0, start)), default=0)
    clause = max((e.end() for e in _CLAUSE_START.finditer(low, sentence, start)), default=sentence)
    return bool(_FEW_SHOT_BEFORE.search(low, clause, start) or _FEW_SHOT_AFTER.match(low[end:]))


def _not_data(word: str) -> bool:
    """People, places, measures; "times/month" is two measures."""
    return any(re.fullmatch(rf"(?:{_NOT_DATA}|{_MEASURES}|{_STOP})", part) for part in word.split("/") if part)


# Nouns that usually count a volume ("1,500 orders a week") but count records held after "we have": "18.000 work orders".
_HELD_NOUNS = r"orders|calls|sessions|interactions|queries|requests"
_HELD_BEFORE = re.compile(
    r"\b(?:have|has|had|'ve|got|kept|saved|logged|archived|collected|recorded|there are)\s+(?:about |around |roughly |some |~|over |nearly |almost |maybe )?$"
)
# Material without the wanted answers is not an example of the behaviour: "the raw inbox (~90k emails)", "50k
# unlabelled tickets", "transcripts without summaries".
_RAW = re.compile(
    r"\b(?:raw|unlabell?ed|unannotated|uncurated|unreviewed|unsorted|unprocessed|untagged|ungraded|unanswered"
    r"|not (?:yet )?(?:labell?ed|annotated|reviewed|tagged|graded)|without (?:any )?(?:labels|answers|replies|annotations|summaries|tags))\b"
)


_RAW_AFTER = re.compile(
    r"\b(?:labell?ed|annotated|reviewed|tagged|graded|answered|unlabell?ed|unannotated|answers|labels|replies)\b"
)


def _raw(low: str, start: int, end: int, num_end: int) -> bool:
    """Return True when the counted material is said to be raw: in the words before the number (same clause, a
    bracket aside, at most five words back) or in its own clause after it.
    """
    sentence = max((e.end() for e in _SENTENCE_END.finditer(low, 0, start)), default=0)
    clause = max((e.end() for e in _CLAUSE_START.finditer(low, sentence, start) if e.group(0) != "("), default=sentence)
    before = " ".join(low[clause:start].split()[-5:])
    clause_end = next((e.start() for e in _CLAUSE_END.finditer(low, end)), len(low))
    # "500k emails but none are labelled": a "but" clause that takes the labels away
    sentence_end = next((e.start() for e in _SENTENCE_END.finditer(low, end)), len(low))
    taken_back = re.search(
        r"^[^.;]*?\b(?:but|though|although|yet)\s+(?:none|not one|nothing|no one|they(?:'re| are)? not|they'?re un\w+|they are un\w+|without)\b",
        low[clause_end:sentence_end],
    ) and _RAW_AFTER.search(low, clause_end, sentence_end)
    return bool(_RAW.search(before) or _RAW.search(low, num_end, clause_end) or taken_back)


def _open_noun(low: str, m: re.Match) -> tuple[int, str, bool] | None:
    """Read a count of some other noun than the listed data nouns: return (end, head, curated), or None for
    people, places, taxonomies, money and measures. What people hold as data has too many names to list ("400 past NDAs",
    "2,400 filings", "40k commits"), what a number counts besides data has few.
    """
    bare = _BARE_CURATED.match(low, m.end())
    if bare:
        return bare.end(), "", True
    generic = _GENERIC.match(low, m.end())
    if generic:
        head, mods = generic.group("head"), generic.group("mods")
        words = mods.split()
        curated = bool(re.search(rf"\b(?:{_CURATED_WORDS})\b", low[m.end() : generic.end() + 40].split(".")[0]))
        if _TAXONOMY.match(head):
            return (generic.end(), head, True) if curated else None
        if head in ("ones", "them", "those") and re.search(rf"\b(?:{_GOOD_WORDS}|{_CURATED_WORDS})\b", mods):
            return generic.end(), "ones", True  # "a dozen good ones", "50k really clean ones": the usable part
        if re.fullmatch(_HELD_NOUNS, head) and _HELD_BEFORE.search(low[: m.start()]):
            return generic.end(), head, curated  # "we have 18.000 work orders": records held, not a volume
        if not _not_data(head) and not any(_not_data(w) for w in words[-1:]):
            return generic.end(), head, curated
        return None
    paren = _PAREN.search(low, 0, m.start())  # "our reports (around 2,000, written 2019-2024)"
    if paren and not _not_data(paren.group(1)) and re.match(r"\s*[,)]", low[m.end() :]):
        end = next((e.start() for e in _CLAUSE_END.finditer(low, m.end())), len(low))
        return m.end(), paren.group(1), bool(re.search(rf"\b(?:{_CURATED_WORDS})\b", low[m.end() : end]))
    return None


def mentions(text: str) -> list[Mention]:
    """Every count in `text` that is attached to a data noun, a document noun, or a volume with a rate; examples
    shown in a prompt are kind "few_shot".
    """
    low = text.lower()
    out: list[Mention] = []
    for m in _NUMBER.finditer(low):
        value = _value(m)
        if value is None or not _standalone(low, m):
            continue
        exact = bool(m.group("num") or m.group("word"))
        if (
            m.group("num")
            and re.fullmatch(r"(?:19|20)\d\d", m.group("num"))
            and not m.group("scale")
            and (
                re.search(r"\b(?:in|since|from|until|till|by|of|for|during|before|after|as of)\s+$", low[: m.start()])
                or not (g := _GENERIC.match(low, m.end()))
                or not g.group("head").endswith("s")
            )
        ):
            continue  # "our 2024 price list", "in 2023": a year, not a count ("2000 examples" names a plural)
        noun = _NOUN.match(low, m.end())
        if not noun:
            other = _open_noun(low, m)
            if other is None or _RATE.match(low[other[0] :]) or _SPEC.match(low[other[0] :]):
                continue
            end, head, curated = other
            if _wished(low, m.start(), end):
                continue
            kind = (
                "few_shot"
                if _few_shot(low, m.start(), end, head)
                else "raw"
                if _raw(low, m.start(), end, m.end())
                else "examples"
            )
            # The usable part picked out of a larger heap ranks above every other count: 2 over curated's 1.
            out.append(Mention(kind, value, (2 if head == "ones" else curated, exact, False, value)))
            continue
        rest = low[noun.end() :]
        rate = _RATE.match(rest)
        if rate:
            out.append(Mention("requests_per_month", int(value * _PER_MONTH[rate.group(1) or rate.group(2)]), ()))
            continue
        end = next((e.start() for e in _CLAUSE_END.finditer(low, noun.end())), len(low))
        curated = bool(_CURATED.search(low[m.end() : end]))
        if noun.group("vol") and not curated or _SPEC.match(rest):
            continue
        if _wished(low, m.start(), noun.end()):
            continue
        if _few_shot(low, m.start(), noun.end(), low[m.end() : noun.end()]):
            out.append(Mention("few_shot", value, ()))
        elif _raw(low, m.start(), noun.end(), m.end()):
            out.append(Mention("raw", value, ()))
        elif noun.group("ex") or curated:
            out.append(Mention("examples", value, (curated, exact, True, value)))
        else:
            out.append(Mention("documents", value, ()))
    return out


def best_examples(text: str) -> Mention | None:
    """Return the most specific example count in `text`; "no data yet" is a count of 0, the least specific."""
    found = [x for x in mentions(text) if x.kind == "examples"]
    if found:
        return max(found, key=lambda x: x.rank)
    return Mention("examples", 0, (False, False, False, -1)) if _NO_DATA.search(text.lower()) else None


def counts(text: str) -> dict:
    """Training-example count, request volume and document count stated in `text` (keys present when found)."""
    out: dict = {}
    for x in mentions(text):
        if x.kind not in ("examples", "few_shot", "raw"):
            out.setdefault(x.kind, x.value)
    best = best_examples(text)
    if best is not None:
        out["examples"] = best.value
    return out


def numbers(text: str) -> list[int]:
    """Every count written in `text`, in order ("about 1.2k", "a few hundred", "twenty"), less labels and measures
    ("version 2", "for 2 weeks"): what is left answers "how many examples?".
    """
    low = text.lower()
    return [
        v
        for m in _NUMBER.finditer(low)
        if (v := _value(m)) is not None
        and _standalone(low, m)
        and not re.match(rf"\s*(?:{_MEASURES})\b", low[m.end() :])
    ]


def percent(text: str) -> int | None:
    """Return the first percentage in `text` ("40%", "40 percent", "40 per cent", "eighty percent"), or None."""
    m = re.search(r"(\d{1,3})\s?%|(\d{1,3}) per ?cent", spelled_out(text) if "cent" in text else text)
    return int(m.group(1) or m.group(2)) if m else None


# A size said of a text, in the unit it is said in: "a 14-page style guide", "about 9,000 words", "~11k input tokens",
# "some forty pages", "ninety-page", "18.000 tokens", "12.000 characters". Tokens per unit are rough English averages
# (about 500 words to a page, 1.3 tokens to a word, 4 characters to a token): a size's order of magnitude is all a
# reading needs.
_SIZE = re.compile(
    r"(?<![\w.,])(?P<n>\d{1,3}(?:[,.]\d{3})+(?![.,]?\d)|\d+(?:\.\d+)?|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty"
    r"|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten"
    r"|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|dozens of|several dozen|hundreds of)"
    r"(?:[- ](?P<scale>hundred|thousand))?"
    r"\s?(?P<k>k)?[- ]?(?:(?:input|prompt|context)[- ])?(?P<unit>pages?|words?|tokens?|toks?|characters?|chars)\b"
)
_VAGUE_SIZES = {"dozens of": 24, "several dozen": 36, "hundreds of": 200}
_TOKENS_PER = {"page": 650, "word": 1.3, "token": 1, "character": 0.25, "char": 0.25}


def sizes(
    text: str, units: tuple[str, ...] = ("page", "word", "token", "character", "char"), unless: re.Pattern | None = None
) -> list[int]:
    """Return every size `text` gives in pages, words, tokens or characters (or only in `units`), in tokens; less
    those whose few words before match `unless` ("the responses are 4-5k tokens" is not the prompt's size).
    """
    out = []
    low = text.lower()
    for m in _SIZE.finditer(low):
        unit = m.group("unit").rstrip("s")
        unit = "token" if unit == "tok" else unit
        if unit not in units or unless is not None and unless.search(low[max(0, m.start() - 40) : m.start()]):
            continue
        n = m.group("n")
        if n[0].isdigit():
            grouped = re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", n)  # "9,000" and "18.000" group thousands
            value = float(n.replace(",", "").replace(".", "") if grouped else n)
        elif n in _VAGUE_SIZES:
            value = _VAGUE_SIZES[n]
        else:
            value = sum(_UNITS[part] for part in re.split(r"[- ]", n))
        value *= _SCALE.get(m.group("scale") or "", 1) * (1000 if m.group("k") else 1)
        out.append(int(value * _TOKENS_PER[unit]))
    return out


def spans(text: str) -> list[tuple[int, int, int]]:
    """Every count in `text` as (start, end, value), less labels ("version 2", "a 200-page manual"): the numbers a
    role is given to, before any is taken as the training-example count.
    """
    low = text.lower()
    return [
        (m.start(), m.end(), v) for m in _NUMBER.finditer(low) if (v := _value(m)) is not None and _standalone(low, m)
    ]
