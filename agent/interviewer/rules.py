"""Phrase and number rules for the offline interviewer: high precision, so they run before any similarity guess.

Every rule works on one lower-cased clause or sentence and returns a value or None; negations are checked
before the plain forms ("can't go to OpenAI" before "go to OpenAI"), and style talk that rules style out ("the
tone is fine") before style talk. The number rules live in numbers.py and are re-exported here.
"""

from __future__ import annotations

import re

from agent.interviewer.numbers import best_examples, counts, numbers, percent  # noqa: F401  (the rules' API)

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
    r"|house style|guidelines?|behaviou?r|manner|register|rambl\w+|too long|(?:under|below|at most|max(?:imum)?|no more than|fewer than|less than|within) \d+ (?:words|characters|sentences|lines|paragraphs)|hedg\w+|apologi\w+|sign-?off|greeting)\b")
KNOWLEDGE = re.compile(
    r"\b(knowledge(?: base)?|kb|docs|documentation|documents|manuals?|wiki|handbook|faqs?|intranet|confluence|notion"
    r"|pricing|prices?|price list|catalog(?:ue)?|inventory|stock levels?|specs?|specifications|product (?:info\w*|details|data)"
    r"|policies|(?:leave|refund|returns?|travel|expense|hr|company|cancellation|shipping|warranty) policy|contracts?|changelog|release notes|codebase|internal (?:data|information|info)|facts?|help ?cent(?:re|er)|rate cards?"
    r"|recent (?:events|news|changes)|real[- ]time|current (?:prices|stock|status|offers)|news|look(?:s|ing)? up"
    r"|(?:answer(?:s|ing)? (?:questions? )?(?:about|on|from|using|based on)|questions (?:about|on))(?!\s*~?\d| (?:a few |several )?(?:dozens?|hundreds?|thousands?)\b)"
    r"|cite|citations?|sources"
    r"|retriev\w+|search(?:es|ing)? (?:our|the|through)|needs? to know|know(?:s|ing)? (?:about )?(?:our|the|their|what)"
    r"|product line|(?:from|in|on) our (?:\w+ )?(?:list|database|inventory|listings|records)|doesn'?t know|does not know|hallucinat\w+|terms (?:and|&) conditions)\b")
# "answer about 900 emails" counts emails: only "answer questions about <a subject>" asks for facts.
# Freshness talk ("always use the latest version", "updated weekly") is about which facts to use: knowledge.
FRESH = re.compile(
    r"\b(?:latest|newest|most recent|up[- ]to[- ]date)\b(?! (?:\w+ )?(?:models?|gpt|llama|claude|gemini|mistral)\b)"
    r"|\bcurrent (?:version|edition|release|docs|pages|polic\w+|rates|figures|terms|menu|schedule|timetable|hours"
    r"|opening hours|fees|offers|catalog\w*|info\w*|data)\b|\b(?:version|edition)s? (?:changes?|is updated)\b"
    r"|\b(?:updated|refreshed|published|republished|revised|change[sd]?)\s+(?:\w+\s+)?(?:every|each|daily|weekly|hourly"
    r"|nightly|monthly|constantly|all the time|regularly)\b")
# "always use/answer ..." and "consistent" name a habit, not a style; beside freshness they ask for current facts.
_WEAK = re.compile(r"^(?:always \w+|consistent\w*)$")
# A clause that rules its style talk out: "we're happy with the tone", "the format is already right", "style isn't
# the problem", "no complaints about the tone", "not the tone". (Not "is not right", "would be happy with shorter".)
_RULED_OUT = re.compile(
    r"(?<!be )\b(?:happy|satisfied|pleased|content|fine|ok|okay|comfortable)\s+with\b"
    r"|\b(?:is|are|'s|'re|was|were|looks?|seems?|sounds?|feels?)\s+(?!not\b|never\b|hardly\b|barely\b|rarely\b)"
    r"(?:\w+\s+)?(?:already\s+)?(?:fine|good|great|ok|okay|right|correct|spot[- ]on|perfect|acceptable|on point|ideal)\b"
    r"(?!\s+(?:most|some|half|only|sometimes|about|around|enough|\d))"
    r"|\b(?:isn't|is not|aren't|are not|'s not|'re not|wasn't|was not)\s+(?:really\s+|actually\s+)?(?:the|an?|our)?\s*"
    r"(?:\w+\s+)?(?:issue|problem|concern)\b|\b(?:problem|issue)\s+(?:isn't|is not|'s not|wasn't)\b"
    r"|\bnothing wrong with\b|\bno (?:complaints?|problems?|issues?)\s+(?:with|about|on)\b|\bno need to\b"
    r"|\b(?:don't|do not|doesn't|does not)\s+(?:need|want)\s+(?:to\s+)?(?:change|fix|touch|adjust|tweak)\b"
    r"|\b(?:don't|do not) (?:really )?care (?:much )?about\b|\b(?:doesn't|does not|don't) matter\b|\b(?:not|isn't) about\b"
    r"|^\W*(?:it's |it is |the problem is |the issue is )?not (?:the |our |its |about )?\w+\W*$")
_SPLIT = re.compile(r"[,;]\s*(?:(?:and|but|or|so|yet)\s+)?|\s+(?:and|but|while|although|though|because|so|whereas|however|yet)\s+|\s+-\s+|:\s*")
_LIST_ITEM = re.compile(r"^(?:(?:the|its|our|their|her|his|my|your|a|an)\s+\S+(?:\s+\S+)?|(?:tone|style|format\w*|voice"
                        r"|structure|length|wording|layout|terminology|phrasing|grammar)(?:\s+\S+)?)$")


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Clauses as (start, end). A bare list item joins its neighbour, so in "we're happy with the tone and the
    format" and "the tone and format are fine" the format is ruled out too; "not the tone, the facts" stays two."""
    spans, pos = [], 0
    for m in _SPLIT.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans = [(a, b) for a, b in [*spans, (pos, len(text))] if text[a:b].strip()]
    merged: list[tuple[int, int]] = []
    carry: int | None = None  # start of a run of bare items waiting for the clause they belong to
    for a, b in spans:
        if _LIST_ITEM.match(text[a:b].strip().lower()):
            carry = a if carry is None else carry
        else:
            merged.append((a if carry is None else carry, b))
            carry = None
    if carry is not None:
        if merged and not re.match(r"\W*(?:it'?s |it is )?not\b", text[merged[-1][0]:].lower()):
            merged[-1] = (merged[-1][0], len(text))
        else:
            merged.append((carry, len(text)))
    return merged


def clauses(text: str) -> list[str]:
    return [text[a:b] for a, b in clause_spans(text)]


def ruled_out(clause: str) -> bool:
    return bool(_RULED_OUT.search(clause))


def behaviour(text: str) -> bool:
    """A behaviour (style, format, task) problem is stated: a cue in a clause that does not rule it out, and not a
    bare habit ("always use ...") beside freshness talk."""
    spans = clause_spans(text)
    for m in BEHAVIOUR.finditer(text):  # matched on the whole text, so "terms and conditions" stays one phrase
        clause = next((text[a:b] for a, b in spans if a <= m.start() < b), text)
        if ruled_out(clause) or _WEAK.match(m.group(0)) and (FRESH.search(clause) or KNOWLEDGE.search(clause)):
            continue
        return True
    return False


def style_ruled_out(text: str) -> bool:
    """Some clause rules style talk out ("the tone is fine")."""
    return any(ruled_out(c) and BEHAVIOUR.search(c) for c in clauses(text))


def knowledge(text: str) -> bool:
    """A knowledge gap is stated, or freshness is asked for where the clause is not about style."""
    return bool(KNOWLEDGE.search(text)) or any(FRESH.search(c) and not behaviour(c) for c in clauses(text))


def topic(clause: str) -> str | None:
    return "behaviour" if behaviour(clause) else "knowledge" if knowledge(clause) else None


_PROBLEM_WORDS = {"knowledge": "knowledge", "facts": "knowledge", "information": "knowledge", "info": "knowledge",
                  "behaviour": "behaviour", "behavior": "behaviour", "style": "behaviour", "tone": "behaviour",
                  "format": "behaviour", "both": "both"}
_OTHER = {"knowledge": "behaviour", "behaviour": "knowledge", "both": "both"}


def problem_word(text: str) -> str | None:
    """A one-word answer to 'knowledge, behaviour, or both?'; a half ruled out ("not the tone") points to the other."""
    found = set()
    for clause in clauses(text.lower()):
        words = set(re.findall(r"[a-z]+", clause))
        here = {v for k, v in _PROBLEM_WORDS.items() if k in words}
        found |= {_OTHER[v] for v in here} if ruled_out(clause) else here
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
