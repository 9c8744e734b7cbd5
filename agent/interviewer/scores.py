"""A score the prompt reached and a score the person needs, read from one text and compared with each other.

The article's rule ("if a good prompt gets you about 80% of the way, you may not need fine-tuning") is about the
distance to the person's own target, not the raw score: "our prompt gets 82% right and we need 97%" fell short by
15 points, and "it's at 72%, 70% is the bar" is good enough. So when a text gives both numbers, step 1 is read
from them, by the offline reader and after the LLM interviewer alike (`graphs`-free: the readers call `compare`).

Scores are read higher-is-better: an error or failure rate ("gets 15% wrong", "we can live with 2% errors") is
turned round (0.85, 0.98). Percentages, "41 of 50" / "41/50", and 0.xx figures next to a metric word (F1, accuracy,
exact match, pass rate) are scores; money, token counts, team sizes and dates are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# One rule for step 1 from a reached and a needed score, shared with `tunewise measure`: tools/measure/verdict.py.
from tools.measure.verdict import errors_to_fix, verdict

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "a": 1,
}  # fmt: skip
_N = r"(?:\d{1,4}|" + "|".join(_WORD_NUMBERS) + r")"
# One score: "82%", "82 percent", "41 of 50", "41/50", "four in five", "nine times out of ten", "half the time",
# "0.82" (a bare decimal only where the text names a metric: F1, accuracy, pass rate ...).
_SCORE = re.compile(
    r"(?P<pct>\d{1,3}(?:\.\d+)?)\s?(?:%|percent\b|per cent\b|pct\b)"
    rf"|\b(?P<num>{_N}) (?:wrong |right |correct |bad |errors? |failures? )?(?:times )?(?:out )?(?:of|in) "
    rf"(?:the |our |every |a )?(?P<den>{_N})\b"
    r"(?! (?:years?|months?|weeks?|days?|people|engineers?|staff|teams?|languages?|countries))"
    # "into one of 18 codes", "one of nine routing categories": a choice among classes, not a score
    r"(?! (?:[a-z]+ )?(?:codes?|categor(?:y|ies)|classes|intents?|queues?|labels|departments?|types|buckets|topics"
    r"|tags|groups|routes|reasons|levels|tiers)\b)"
    r"|(?<![\d.,])\b(?P<num2>\d{1,4})/(?P<den2>\d{1,4})\b(?!/)"  # not "2/5" in a rating of "4.2/5"
    r"|(?<![\d.])(?P<dec>0?\.\d{1,3})\b"
    r"|\b(?P<half>half|a third|two thirds|a quarter|three quarters|a tenth|a fifth)\b"
    r"(?= (?:of )?(?:the time|them|of (?:the|our|all|them|those))| (?:are|is|were|was|get|gets)\b)"
    # a bare number right after a target's verb, where the text gives its other score in percent: "wants 95"
    r"|\b(?P<verb>wants|want|needs|need|must reach|must hit|demands|requires|expects|at least|asks for|target of|bar of"
    r"|minimum of) (?P<bare>[5-9]\d(?:\.\d+)?)\b"
    r"(?!\s?(?:%|percent|per cent|of\b|out\b|in\b|/|k\b|,\d|\.\d|years?\b|months?\b|days?\b|people\b|ms\b))"
)
_FRACTIONS = {
    "half": 0.5, "a third": 1 / 3, "two thirds": 2 / 3, "a quarter": 0.25, "three quarters": 0.75, "a tenth": 0.1,
    "a fifth": 0.2,
}  # fmt: skip
_METRIC = re.compile(
    r"\b(?:f1|f-1|f score|accura\w+|acc|exact[- ]match|em|precision|recall|pass(?:es|ing)?(?: rate)?|hit rate|score[sd]?"
    r"|correct\w*|right|agree\w*|match\w*|success\w*|rouge\w*|bleu|auc|valid|rate[sd]?|usable|good|accepted)\b",
    re.I,
)
_NOT_A_SCORE = re.compile(
    r"\b(?:cost\w*|cheaper|pric\w+|budget|spend\w*|discount|tokens?|latency|faster|slower|growth|grow\w*|"
    r"traffic|volume|revenue|margin|of (?:our|the) (?:team|staff))\b",
    re.I,
)
# "20% more", "30 percent cheaper", "10% faster": a change, not a score.
_CHANGE_AFTER = re.compile(
    r"^\s*(?:more|less|fewer|cheaper|faster|slower|higher|lower|increase|decrease|growth|up|down)\b", re.I
)
# "at most 1 in 50", "no more than 2%", "under 5%": a ceiling, so the number counts failures like the reached one.
_CEILING = re.compile(
    r"(?:\b(?:at most|no more than|not more than|under|below|less than|fewer than|max(?:imum)?|up to|cap(?:ped)? at"
    r"|worse than|exceed\w*)|<=?|≤)\W*$",
    re.I,
)
# "wrong", "errors", "fails", "misses", "rejected": the number counts failures, so the score is 1 - it.
_FAILURE = re.compile(
    r"\b(?:wrong|errors?|error rate|erroneous|fail\w*|miss\w*|mistakes?|incorrect\w*|reject\w*|broken|breaks?|"
    r"bad|flagg?\w*|escalat\w*|hallucinat\w*|mis(?:classif|label|rout|read|fil|tag|sort)\w*|false (?:positives?|negatives?)"
    r"|defects?|failures?|failing|fallout)\b",
    re.I,
)
# "catches 88% of bad cites", "flags 90% of fraud": the failure word names what is found, and the number is a success.
_SUCCESS = re.compile(
    r"\b(?:catch\w*|caught|detect\w*|find\w*|finds|found|identif\w*|flags?|flagging|spot\w*|recall\w*)\b", re.I
)
# What makes a number the target: needing, requiring, a bar, a threshold, an SLA, what can be tolerated.
_TARGET = re.compile(
    r"\b(?:need\w*|requir\w*|must|has to|have to|got to|target\w*|goal|aim\w*|bar\b|threshold|sla|slo|at least|"
    r"minimum|min\.?|want\w*|expect\w*|acceptable|(?:would|will|'d|can) accept|accepts? (?:at most|no more|only|up to|under|below)|tolerat\w+|live with|sign[- ]off|"
    r"signs? off|worse than|deal-?breaker|happy|satisf\w+|fine with|content with|"
    r"mandat\w+|demand\w*|insist\w*|should (?:be|hit|reach|get)|to reach|to hit|to get (?:to|above)|ceiling|cap\b|"
    r"no more than|at most|max(?:imum)?\b|allow\w*|cutoff|cut-off|go[- ]live|launch criteria|okr|ask\w*|spec\w*|"
    r"(?:ship|launch|release|go live|roll (?:it )?out)\w* (?:at|with)|contract\w*|promis\w+|committed|sla says|"
    r"exceed\w*|criteri\w+|policy|norm)\b|<=?|≤",
    re.I,
)
# What makes a number the reached score: what the prompt gets, is at, scores, manages, today.
_REACHED = re.compile(
    r"\b(?:gets?|got|getting|reach\w*|scor\w+|hits?|hitting|manag\w+|currently|current|today|now|stuck|"
    r"plateau\w*|sits?|sitting|tops? out|maxes out|achiev\w+|measured|baseline|does|did|came in|comes in|"
    r"we(?:'re| are) at|is at|are at|was at|at about|at around|only|hovers?|around|roughly|about)\b",
    re.I,
)


@dataclass(frozen=True)
class Score:
    """One score in the text: its higher-is-better value, whether it is the target, and the words around it.

    `ceiling` marks a number said as a cap ("at most 1 in 50", "anything worse than 1 in 100") with no failure word
    of its own: it counts failures when the reached score does, and is a floor otherwise ("below .97 precision").
    """

    value: float
    target: bool
    evidence: str
    ceiling: bool = False
    failing: bool = False


@dataclass(frozen=True)
class Comparison:
    """The reached score against the needed one, and the verdict on step 1."""

    reached: float
    needed: float
    verdict: str  # "fell_short" or "good_enough"
    evidence: str

    @property
    def short_by(self) -> float:
        """How many points (of 100) the prompt is below the target; 0 when it reaches it."""
        return max(0.0, round((self.needed - self.reached) * 100, 1))

    @property
    def errors_to_fix(self) -> float:
        """The share of the prompt's errors that must go to reach the target (0 when it reaches it)."""
        return errors_to_fix(self.reached, self.needed)


def _clauses(text: str) -> list[str]:
    """Split into sentences, then at semicolons and at "but"/"while"/"whereas": each part says one score."""
    parts = re.split(r"(?<=[.!?])\s+|\n+|;\s*|\s+(?:but|while|whereas|and we|yet)\s+", text)
    return [p.strip() for p in parts if p and p.strip()]


# After the number: "70% is the bar", "75% would be acceptable", "under 5% failures is fine", "0.85 is what we need".
_TARGET_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,3}?(?:is|are|would be|will be|'d be|would|will)\s+(?:\w+\s+){0,2}?(?:all|the bar|the target|the goal|"
    r"the minimum|fine|acceptable|ok|okay|enough|good enough|what (?:we|they|i) (?:need|want|require)|required|needed|"
    r"expected|accepted|tolerable|allowed)\b"
    r"|^\s*(?:is |are |would be |will be )?(?:all (?:we|they|i) need|what (?:we|they|i) need|needed|required|expected"
    r"|the minimum|minimum)\b",
    re.I,
)


def _number(word: str) -> float:
    return float(_WORD_NUMBERS.get(word.lower(), word) if not word.isdigit() else word)


def _value(m: re.Match[str], metric: bool) -> float | None:
    if m["pct"] is not None:
        value = float(m["pct"]) / 100
    elif m["bare"] is not None:
        value = float(m["bare"]) / 100
    elif m["half"] is not None:
        value = _FRACTIONS[m["half"].lower()]
    elif m["num"] is not None or m["num2"] is not None:
        num, den = _number(m["num"] or m["num2"]), _number(m["den"] or m["den2"])
        if den == 0 or num > den or den in (24, 7, 365):  # "24/7", "9/5" as a schedule is no score
            return None
        value = num / den
    else:
        if not metric:
            return None  # a bare 0.82 is only a score where the text names F1, accuracy, exact match ...
        value = float(m["dec"])
    return value if 0.0 <= value <= 1.0 else None


_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_SPELLED = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{'|'.join(_UNITS)}))?|(?P<teen>{'|'.join(_TEENS)})|(?P<hundred>(?:a|one) hundred))\b",
    re.I,
)


def spelled_out(text: str) -> str:
    """Write spelled-out numbers as digits: "seventy-two percent" -> "72 percent", "out of a hundred" -> "out of 100"
    (dictated and formal texts say scores in words).
    """

    def digits(m: re.Match[str]) -> str:
        if m["hundred"]:
            return "100"
        if m["teen"]:
            return str(_TEENS[m["teen"].lower()])
        return str(_TENS[m["tens"].lower()] + (_UNITS[m["unit"].lower()] if m["unit"] else 0))

    return _SPELLED.sub(digits, text)


def scores(text: str) -> list[Score]:
    """Return every score in `text`, read higher-is-better, with whether it is the target."""
    text = spelled_out(text)
    out: list[Score] = []
    metric = bool(_METRIC.search(text))
    for part in _clauses(text):
        found = list(_SCORE.finditer(part))
        for i, m in enumerate(found):
            value = _value(m, metric)
            if value is None:
                continue
            # the words that belong to this number: from the previous number (or the clause start) to the next one
            start = found[i - 1].end() if i else 0
            end = found[i + 1].start() if i + 1 < len(found) else len(part)
            before, after = part[start : m.start()], part[m.end() : end]
            near = f"{before[-60:]} {after[:60]}"
            if _CHANGE_AFTER.search(after) or (
                _NOT_A_SCORE.search(f"{before[-25:]} {after[:25]}") and not _METRIC.search(near)
            ):
                continue
            last = i + 1 == len(found)  # words after a number that another follows belong to that other one
            # the failure word said of this number: before it (from the last "and"/"but", whose words before belong
            # to the number before), or after it up to a reason ("because false positives go to counsel")
            said_before = re.split(r"\b(?:and|but|while)\b|[,;:]", before)[-1][-60:]
            said_after = re.split(r"\b(?:because|since|as|so|which|when|if|or)\b", after)[0][:45]
            said = f"{said_before} {said_after}"
            failing = bool(_FAILURE.search(said)) and not _SUCCESS.search(said_before[-30:])
            failing = failing and not re.search(r"\b(?:without|no|free of|zero)\b[^.]{0,30}$", said_before)
            ceiling = not failing and bool(_CEILING.search(before[-25:]))
            if failing:
                value = 1.0 - value
            target = bool(_TARGET.search(before[-80:])) or (last and bool(_TARGET_AFTER.search(after[:60])))
            reached = bool(_REACHED.search(before[-40:]))
            target = m["bare"] is not None or (target and not (reached and not _TARGET.search(before[-25:])))
            out.append(Score(round(value, 4), target, part, ceiling=ceiling, failing=failing))
    return out


# A score said of the data or its labellers ("labelled by two annotators, kappa 0.86", "an audit of them found 97%
# correct") measures the training data, not the prompt: it is never the prompt's reached score.
_ABOUT_DATA = re.compile(
    r"\b(?:labell?ed by|annotated by|(?:double|triple|dual)[- ]annotated|kappa|inter-?(?:rater|annotator)|audit(?:ed)? of"
    r"|(?:annotator|labell?er|rater|coder)s?(?:'|’)? agreement|agreement (?:between|among) (?:the |our |two |\w+ )?"
    r"(?:annotators|labell?ers|raters|coders|reviewers))\b",
    re.I,
)
_ABOUT_PROMPT = re.compile(r"\b(?:prompt\w*|few-?shot|zero-?shot|baseline|model|llm|gpt[\w.-]*|bot)\b", re.I)


def compare(text: str) -> Comparison | None:
    """Compare the reached score with the needed one when `text` gives both; None when it does not."""
    found = scores(text)
    targets = [s for s in found if s.target]
    reached = [
        s
        for s in found
        if not s.target and not (_ABOUT_DATA.search(s.evidence) and not _ABOUT_PROMPT.search(s.evidence))
    ]
    if not targets or not reached:
        return None
    if any(s.failing for s in reached):  # "1 in 8 fail ... at most 1 in 50": the cap counts failures too
        targets = [replace(s, value=round(1.0 - s.value, 4)) if s.ceiling else s for s in targets]
    needed = max(targets, key=lambda s: s.value)  # the strictest bar said
    best = max(reached, key=lambda s: s.value)  # the prompt at its best
    evidence = best.evidence if best.evidence == needed.evidence else f"{best.evidence} … {needed.evidence}"
    return Comparison(best.value, needed.value, verdict(best.value, needed.value), evidence)


def said_target(text: str) -> float | None:
    """Return the strictest target the text states (higher-is-better), with or without a reached score."""
    targets = [s.value for s in scores(text) if s.target]
    return max(targets) if targets else None
