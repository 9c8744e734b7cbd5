"""Phrase and number rules for the offline interviewer: high precision, so they run before any similarity guess.

Every rule works on one lower-cased clause or sentence and returns a value or None; negations are checked
before the plain forms ("can't go to OpenAI" before "go to OpenAI").
"""

from __future__ import annotations

import re

_W = r"[a-z'’/-]+"  # words between a number and its noun: letters only, so "gpt-4.1 on 300 examples" reads 300

# ---- numbers -------------------------------------------------------------------------------------------------

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
                  r"|demonstrations?|completions?|q&as?|qa pairs?|instances|items|threads?|translations?"
                  r"|descriptions?|reviews?|letters?|notes?|posts?|reports?|calls?|logs?|outputs?|labels?|them|those|these")
_DOC_NOUNS = r"documents?|docs?|pages?|pdfs?|files?|articles?|manuals?|policies|wiki pages?"
# "10,000 edited articles" are examples of the wanted writing, not a knowledge base.
_CURATED = re.compile(r"\b(edited|written|reviewed|approved|annotated|labell?ed|gold|curated|corrected|translated|human[- ]written|ideal|perfect)\b")
_VOLUME_NOUNS = r"requests?|queries|questions|calls|users|sessions|visitors|api calls|interactions"  # counted only with a rate
_RATE = re.compile(r"^\W*(?:\w+\s+){0,2}?(?:a|per|each|every|/)\s*(day|week|month|year)\b|^\W*(?:\w+\s+){0,2}?(daily|weekly|monthly|yearly)\b")
_PER_MONTH = {"day": 30, "daily": 30, "week": 4.3, "weekly": 4.3, "month": 1, "monthly": 1, "year": 1 / 12, "yearly": 1 / 12}
_NO_DATA = re.compile(
    r"\b(?:no|zero|without any|without)\s+(?:\w+\s+)?(?:training\s+)?(?:data|examples|dataset|samples|labell?ed data)\b"
    r"|\b(?:don'?t|do not|doesn'?t|haven'?t)\s+(?:yet\s+)?(?:have|got|collected|gathered)\s+(?:any\s+)?(?:\w+\s+)?(?:data|examples|dataset)\b"
    r"|\bnothing (?:labell?ed|collected)\b")


def numbers(text: str) -> list[int]:
    """Every count written in `text`, in order ("about 1.2k", "a few hundred", "twenty")."""
    return [v for m in _NUMBER.finditer(text.lower()) if (v := _value(m)) is not None]


def counts(text: str) -> dict:
    """Training-example count, request volume and document count stated in `text` (keys present when found)."""
    out: dict = {}
    low = text.lower()
    for m in _NUMBER.finditer(low):
        value = _value(m)
        if value is None:
            continue
        tail = low[m.end():]
        noun = re.match(rf"[\s-]*(?:(?:{_W})\s+){{0,4}}?(?:(?P<ex>{_EXAMPLE_NOUNS})|(?P<doc>{_DOC_NOUNS})|(?P<vol>{_VOLUME_NOUNS}))\b", tail)
        if not noun:
            continue
        rest = tail[noun.end():]
        rate = _RATE.match(rest)
        if rate:
            unit = rate.group(1) or rate.group(2)
            out.setdefault("requests_per_month", int(value * _PER_MONTH[unit]))
        elif noun.group("vol"):
            continue
        elif noun.group("ex") or _CURATED.search(noun.group(0)):
            out["examples"] = max(out.get("examples", 0), value)
        else:
            out.setdefault("documents", value)
    if "examples" not in out and _NO_DATA.search(low):
        out["examples"] = 0
    return out


def percent(text: str) -> int | None:
    m = re.search(r"(\d{1,3})\s?%|(\d{1,3}) per ?cent", text)
    return int(m.group(1) or m.group(2)) if m else None


# ---- step 1: prompting ---------------------------------------------------------------------------------------

PROMPT_WORDS = re.compile(r"\b(prompt\w*|system message|few[- ]shot|instructions|instructing|telling (?:it|the model)"
                          r"|asked the model|asking the model|in-context|default (?:chatgpt|model|settings)|vanilla"
                          r"|out of the box)\b")
_NOT_TRIED = re.compile(
    r"\b(?:haven'?t|have not|hasn'?t|has not|never|not yet|didn'?t|did not|not)\s+(?:\w+\s+){0,3}?"
    r"(?:tried|try|used|use|written|write|experimented|bothered|attempted|looked at|touched|done|played)\b"
    r"|\bno (?:real |proper |custom |dedicated )?(?:system )?prompt\b|\bwithout (?:a |any )?(?:real |proper )?(?:system )?prompt"
    r"|\b(?:nobody|no one|noone)(?:'s| has| have)? (?:\w+ )?(?:tried|written|touched|done)\b"
    r"|\bdefault (?:system )?(?:prompt|chatgpt|model|settings)\b|\bvanilla\b|\bout of the box\b|\bone-line prompt\b|\bbarely (?:tried|touched)\b|\buntried\b")
_GOOD = re.compile(
    r"\b(?:mostly|almost|nearly|pretty much|largely|basically) (?:works|there|right|good)\b|\bworks? (?:well|fine|okay|ok|great)\b"
    r"|(?<!not )(?<!n't )(?<!quite )(?<!never )\bgood enough\b|\bclose enough\b"
    r"|\b(?:is|are|was|were) (?:fine|good|ok|okay|great|decent|solid)\b|\bmost of the way\b|\bpretty close\b|\b(?:gets|got) us close\b")
_SHORT = re.compile(
    r"fell short|falls? short|not good enough|(?:wasn'?t|isn'?t|not) enough|didn'?t (?:get|work|help|stick|cut)"
    r"|doesn'?t (?:work|help|stick|cut)|did not (?:get|work|help)|does not (?:work|help)|no luck|gave up|giving up"
    r"|(?:can'?t|couldn'?t|unable to|haven'?t been able to|cannot) (?:get|make|stop|fix)|still (?:wrong|off|bad|worse|inconsistent|drifts?|ignores?|sounds?|misses)"
    r"|ignor(?:es|ed|ing)|keeps? (?:drifting|forgetting|ignoring|breaking|slipping)|hit a wall|plateau|struggl|failed|fails"
    r"|tried everything|no matter how|despite|weeks of|months of|not reliabl|unreliabl|inconsistent|hit or miss|flaky"
    r"|only (?:gets|got) us|not quite|falling short|short of|\bmiss(?:es|ed|ing)?\b|slips?|kind of works|sort of works"
    r"|no joy|no dice|no success|nothing worked|didn'?t get anywhere|to no avail|for ages")
_TRIED = re.compile(r"\b(?:tried|trying|played with|experimented with|we've been|we have been|iterat\w+ on|tweak\w*|spent|use[ds]?|using|wrote|written|have a|our)\b")
_LARGE = re.compile(
    r"\b(?:long|huge|large|massive|giant|enormous|bloated|\d[\d,]*k?[- ]token)\s+(?:system\s+)?prompt"
    r"|prompt (?:is|has grown|runs|of) (?:\w+\s+){0,2}?(?:huge|long|large|massive|\d[\d,]*k? tokens)"
    r"|(?:\d[\d,]*|dozens of|forty|fifty) (?:few-shot )?examples in (?:every|each|the) (?:prompt|request|call)"
    r"|(?:on|in|with) every (?:single )?(?:request|call)|costly at (?:our )?volume|paying for (?:\w+\s+){0,3}tokens")


_NOTHING_TRIED = re.compile(r"\b(?:haven'?t|have not|not|didn'?t|did not) (?:yet )?(?:tried|done|attempted) (?:anything|much|a thing)\b"
                            r"|\bnothing (?:tried|yet)\b")


def prompting(clause: str, *, focus: bool = False) -> str | None:
    """not_tried, fell_short or good_enough when the clause is about prompting (or answers that question)."""
    if _NOTHING_TRIED.search(clause):  # "haven't tried anything yet" needs no mention of prompts
        return "not_tried"
    if not focus and not PROMPT_WORDS.search(clause):
        return None
    share = percent(clause)
    if share is not None and (focus or re.search(r"\b(?:gets?|got|there|way|of)\b", clause)):
        return "good_enough" if share >= 80 else "fell_short"
    if _NOT_TRIED.search(clause):
        return "not_tried"
    if _GOOD.search(clause):
        return "good_enough"
    if _SHORT.search(clause):
        return "fell_short"
    return None


def prompt_tried(clause: str) -> bool:
    return bool(PROMPT_WORDS.search(clause) and _TRIED.search(clause))


def prompt_large(clause: str) -> bool:
    return bool(_LARGE.search(clause)) and bool(PROMPT_WORDS.search(clause) or "few-shot" in clause or "tokens" in clause)


# ---- step 2: behaviour or knowledge --------------------------------------------------------------------------

BEHAVIOUR = re.compile(
    r"\b(tone|voice|stop (?:saying|using|adding|apologi\w+|writing|starting)|step by step|in an? (?:\w+ )?(?:way|manner)|explain\w*|styled?|sound(?:s|ing)? (?:like|less|more)|(?:talk|speak|write)s? like|robotic|stiff|vibe|personality|format\w*|structure[ds]?|concise\w*|verbose|verbosity|shorter|brevity|terse"
    r"|terminology|terms(?! (?:and|&) conditions| of service)|jargon|wording|phrasing|persona|brand|polite|formal|casual"
    r"|friendl\w+|empath\w+|json|schema|fields|extract\w*|classif\w+|categor\w+|label\w*|refus\w+|summar\w+|bullet\w*"
    r"|markdown|template|consistent\w*|always (?:answer|respond|reply|use|start|end|write)|writ(?:e|ing|es) (?:like|in)"
    r"|house style|guidelines?|behaviou?r|manner|register|rambl\w+|too long|hedg\w+|apologi\w+|sign-?off|greeting)\b")
KNOWLEDGE = re.compile(
    r"\b(knowledge(?: base)?|kb|docs|documentation|documents|manuals?|wiki|handbook|faqs?|intranet|confluence|notion"
    r"|pricing|prices?|price list|catalog(?:ue)?|inventory|stock levels?|specs?|specifications|product (?:info\w*|details|data)"
    r"|policies|(?:leave|refund|returns?|travel|expense|hr|company|cancellation|shipping|warranty) policy|contracts?|changelog|release notes|codebase|internal (?:data|information|info)|facts?|up[- ]to[- ]date"
    r"|latest|recent (?:events|news|changes)|real[- ]time|current (?:prices|stock|status|offers)|news|look(?:s|ing)? up"
    r"|answer(?:s|ing)? (?:questions? )?(?:about|on|from|using|based on)|questions (?:about|on)|cite|citations?|sources"
    r"|retriev\w+|search(?:es|ing)? (?:our|the|through)|needs? to know|know(?:s|ing)? (?:about )?(?:our|the|their|what)"
    r"|product line|(?:from|in|on) our (?:\w+ )?(?:list|database|inventory|listings|records)|doesn'?t know|does not know|hallucinat\w+|terms (?:and|&) conditions)\b")
_PROBLEM_WORDS = {"knowledge": "knowledge", "facts": "knowledge", "information": "knowledge", "info": "knowledge",
                  "behaviour": "behaviour", "behavior": "behaviour", "style": "behaviour", "tone": "behaviour",
                  "format": "behaviour", "both": "both"}


def problem_word(text: str) -> str | None:
    """A one-word answer to 'knowledge, behaviour, or both?'."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    found = {v for k, v in _PROBLEM_WORDS.items() if k in words}
    if "both" in found or {"knowledge", "behaviour"} <= found:
        return "both"
    return found.pop() if len(found) == 1 else None


# ---- step 4: stability ----------------------------------------------------------------------------------------

_CHANGING = re.compile(
    r"\b(?:will|going to|about to|may|might|could|likely to|expected to|due to|set to|plan(?:ning)? to)\s+(?:\w+\s+){0,2}?"
    r"(?:change|be replaced|be updated|be revised|be rewritten|evolve|shift|move|be reworked|be redone)\b"
    r"|\b(?:change[sd]?|changing|updated|revised|rewritten|replaced|shifts?)\s+(?:\w+\s+)?(?:every|each|often|frequently|constantly"
    r"|all the time|weekly|monthly|daily|regularly|soon|next)\b|\bnext (?:quarter|month|year|week|release|season)\b"
    r"|\bin flux\b|\bevolving\b|\bstill (?:figuring|deciding|iterating|experimenting|changing|working out|debating)"
    r"|\bnot (?:yet |really |very )?(?:stable|settled|final|fixed)\b|\bisn'?t (?:yet |really |very )?(?:stable|settled|final|fixed)\b"
    r"|\bunstable\b|\brebrand\w*|\bmoving target\b|\bkeeps? changing\b|\bchanges? (?:a lot|often|quickly)\b|\bin progress\b"
    r"|\b(?:weekly|daily|monthly)\b|\bvolatile\b|\bnew (?:guidelines|style guide) (?:soon|next)\b")
_STABLE = re.compile(
    r"\b(?:stable|settled|established|long[- ]standing|locked(?: in| down)?|finali[sz]ed|fixed for)\b"
    r"|\b(?:won'?t|will not|doesn'?t|does not|hasn'?t|has not|haven'?t|rarely|never|shouldn'?t|isn'?t going to)\s+(?:\w+\s+){0,2}?(?:change|changed|evolve|move)\b"
    r"|\bsame (?:for|since) (?:years|ages|a long time)\b|\bfor (?:years|ages|a decade)\b|\bunchanged\b|\bconsistent for\b")


def stability(clause: str) -> bool | None:
    if _CHANGING.search(clause):
        return False
    if _STABLE.search(clause):
        return True
    return None


# ---- step 5: the path -------------------------------------------------------------------------------------------

_PRIVATE = re.compile(
    r"\b(?:must|has to|have to|needs? to|should|got to)\s+(?:\w+\s+){0,2}?(?:stay|remain|be kept|live|be hosted|run)\s+(?:on|in|within|inside|behind)\b"
    r"|\bon[- ]?prem\w*|\bself[- ]host\w*|\bour own (?:servers?|infrastructure|hardware|gpus?|cloud|machines|data ?cent(?:er|re))"
    r"|\b(?:can'?t|cannot|can not|must not|mustn'?t|may not|shouldn'?t|should not|won'?t|not allowed to|never)\s+(?:\w+\s+){0,3}?"
    r"(?:leave|go|be sent|send|share|shared|upload|uploaded|use|leaves|touch|be used)\b"
    r"|\b(?:nothing|no data|none of (?:it|this|our data))\s+(?:\w+\s+){0,2}?(?:can|may|should|is allowed to)\s+(?:\w+\s+){0,2}?(?:go|leave|be sent|be shared)\b"
    r"|\b(?:forbid\w*|prohibit\w*|not permitted|banned|bans)\b|\bno (?:third[- ]part\w+|external|cloud|outside)\b|\bconfidential|\bsensitive\b|\bproprietary\b|\bprivacy\b|\bprivate\b"
    r"|\bhipaa\b|\bgdpr\b|\bpii\b|\bphi\b|\bair[- ]gapped\b|\bregulat\w+|\bcompliance\b|\bsovereign\w*|\bin[- ]house\b"
    r"|\bfirewall\b|\bdata residency\b|\bnda\b|\bclassified\b|\bpatient\b|\bmedical records\b")
_OPENAI_OK = re.compile(
    r"\b(?:can|may|could|is allowed to|are allowed to|fine to|ok to|okay to|happy to|allowed to|able to|free to)\s+(?:\w+\s+){0,2}?"
    r"(?:go|be sent|send|upload|share|use|be shared|be uploaded)\b"
    r"|\b(?:openai|the cloud|a hosted api|hosted apis?|third[- ]part\w+)\s+(?:is|are)\s+(?:fine|ok|okay|allowed|acceptable|no problem)"
    r"|\bfine with (?:openai|sending|uploading|the cloud)|\b(?:no|not a|not an) (?:privacy |data )?(?:concern|issue|problem|constraint)s?\b"
    r"|\balready (?:use|using|on|pay for|send)\b|\bpublic(?:ly available)? data\b"
    r"|\bdata is public\b|\bdon'?t mind\b")
_NOT_SENSITIVE = re.compile(r"\b(?:not|isn'?t|aren'?t|nothing|no) (?:very |really |particularly |that )?(?:sensitive|confidential|private)\b")


def privacy(clause: str, *, focus: bool = False) -> bool | None:
    """True: the data must stay in-house; False: it may go to OpenAI."""
    about = focus or re.search(r"\b(data|openai|cloud|server|servers|third|vendor|api|privacy|private|infrastructure"
                               r"|customer|patient|records|hosted|upload|send\w*|leave|share|compliance|external|vendors?|services?|providers?)\b", clause)
    if not about:
        return None
    negated_ok = re.search(r"\b(?:not|isn'?t|aren'?t|never)\s+(?:\w+\s+)?(?:fine|ok|okay|allowed|an option)\b", clause)
    if negated_ok or _PRIVATE.search(clause) and not _NOT_SENSITIVE.search(clause):
        return True
    if _OPENAI_OK.search(clause) or _NOT_SENSITIVE.search(clause):
        return False
    return None


COMPLEX = re.compile(r"\b(enterprise|complex|specialis\w+|specializ\w+|highly technical|niche|legal|law firm|medical|clinical"
                     r"|pharma\w*|financ\w+|insurance|scientific|biotech|engineering specs)\b")
BEST = re.compile(r"\b(best (?:possible )?(?:quality|results|model)|quality (?:matters|is what matters|above all|first)"
                  r"|budget is (?:flexible|not an issue|not a concern|no (?:object|issue))|money is no object|whatever it costs"
                  r"|top quality|highest (?:quality|accuracy)|state of the art|no matter the cost|cost is not a concern)\b")
FAST = re.compile(r"\b(iterate (?:fast|quickly)|fast iteration|iterating fast|move fast|quickly|asap|speed|rapid\w*|startup"
                  r"|this week|by friday|ship fast|no ops|no infra\w*|don'?t want to (?:run|manage) (?:gpus|servers|infra\w*))\b")
