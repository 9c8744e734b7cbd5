"""Phrase and number rules for the offline interviewer: high precision, so they run before any similarity guess.

Every rule works on one lower-cased clause or sentence and returns a value or None; negations are checked
before the plain forms ("can't go to OpenAI" before "go to OpenAI"), and style talk that rules style out ("the
tone is fine") before style talk. The number rules live in numbers.py and are re-exported here.
"""

from __future__ import annotations

import re

from agent.interviewer.numbers import best_examples, counts, mentions, numbers, percent, sizes  # noqa: F401  (the rules' API)

# ---- step 1: prompting ---------------------------------------------------------------------------------------

# "prompt/response pairs" and "prompts and completions" are logged data, not a prompt. Trying a model is trying a
# prompt: "we tried GPT-4.1 and it hallucinated", "tested Claude on it".
PROMPT_WORDS = re.compile(
    r"\b((?:prompt\w*|promt\w*)(?!\s*(?:/|-|and|&)\s*(?:responses?|completions?|outputs?|answers?)\b)"
    r"|one-?liner|(?:tried|tested|trying|testing|attempted|played with|experimented with|gave it to|gave|giving|fed|feeding)\s+(?:\w+\s+){0,2}?"
    r"(?:gpt[\w.-]*|chatgpt|claude|gemini|llama[\w.-]*|mistral|an? llm|the (?:base |off-the-shelf )?model|an? off-the-shelf model"
    r"|the (?:chatbot|bot|ai|assistant))|system message|(?:few|zero|one)[- ]shot|instructions|instructing|playground"
    r"|(?:telling|told|asking|asked) (?:it|the (?:model|chatbot|bot|ai|assistant)) to"
    r"|asked the model|asking the model|in-context|default (?:chatgpt|model|settings)|vanilla"
    r"|out of the box)\b"
)
_NOT_TRIED = re.compile(
    r"\b(?:haven'?t|have not|hasn'?t|has not|never|not yet|didn'?t|did not|not)\s+(?:\w+\s+){0,3}?"
    r"(?:tried|try|used|use|written|write|wrote|experimented|bothered|attempted|looked at|touched|done|played|tested|test"
    r"|evaluated|explored|looked into|invested in|worked on)\b"
    r"|\bone-?liner\b|\bonly (?:tried|used|wrote|have) (?:a |one )?(?:basic|simple|quick|short|one-line|single-line|naive|bare) (?:prompt|instruction)"
    r"|\bno (?:real |proper |custom |dedicated )?(?:system )?prompt\b|\bwithout (?:a |any )?(?:real |proper )?(?:system )?prompt"
    r"|\b(?:nobody|no one|noone)(?:'s)?(?:\s+\w+){0,4}?\s+(?:tried|written|wrote|touched|done)\b"
    r"|\bnothing serious\b|\bnot (?:very |really )?seriously\b|\bonly (?:a bit|a little|briefly)\b|^\W*(?:a bit|a little|barely|briefly)\b"
    r"|\bdefault (?:system )?(?:prompt|chatgpt|model|settings)\b|\bvanilla\b|\bout of the box\b|\bone-line prompt\b|\bbarely (?:tried|touched)\b|\buntried\b"
)
_GOOD = re.compile(
    r"\b(?:mostly|almost|nearly|pretty much|largely|basically) (?:works|there|right|good)\b|\bwork(?:s|ed)? (?:well|fine|okay|ok|great)\b"
    # "it works, but it's expensive": the prompt does the job and the complaint is cost; not "works only half the time"
    r"|(?<!kind of )(?<!sort of )(?<!kinda )(?<!sorta )(?<!only )\b(?:it |that |this |which |prompt |prompting )?works\b(?!\s+(?:only|sometimes|half|about|around|for some|in some|on some|\d|ok-?ish|so-?so))(?=\s*(?:[,.;!]|$|but|and|though|well|fine))"
    r"|\b(?:does|did|do|handles?|gets?|got) (?:it|this|that|them|the job|(?:the |our )?[\w-]+ (?:format|tone|style|structure|layout|part))\s+(?:\w+\s+)?(?:fine|well|right|correctly|ok|okay)\b(?!\s+(?:only|some|half|sometimes|about|around|\d|part|in some|for some))"
    r"|\b(?:does|did|do) (?:the|its) job\b|\bgets? the job done\b|\bserves? (?:the|its) purpose\b|\b(?:good enough|fine) for now\b"
    r"|\b(?:it's|it is|that's|its) (?:(?!not\b|never\b|hardly\b|barely\b|rarely\b)\w+ )?(?:fine|ok|okay|good|decent|solid)\b(?!\s+(?:only|some|half|sometimes))|\bnail(?:s|ed|ing)?\b|\b(?:is|are|was|were|'s|'re)\s+(?:already|really|pretty|quite|totally|mostly|generally|largely)\s+(?:fine|good|ok|okay|right|great|acceptable|decent|solid)\b"
    r"|\b(?:quality|accuracy|output|results?|answers?)\s+(?:is|are|was|were)\s+(?:acceptable|high|good enough|fine|great|solid)\b"
    r"|\bacceptable\b(?!\s+(?:only|some|half|sometimes))"
    r"|(?<!not )(?<!n't )(?<!quite )(?<!never )\bgood enough\b|\bclose enough\b"
    r"|\b(?:is|are|was|were) (?:fine|good|ok|okay|great|decent|solid)\b|\bmost of the way\b|\bpretty close\b|\b(?:gets|got) us close\b"
    # "our prompt handles the tone well", "prompting already handles the format", "already writes them the way we
    # want", "format ok but ...": the prompt does the behaviour part.
    r"|\bhandles? (?:\w+ ){0,3}?(?:well|fine|nicely|correctly|reliably)\b|\balready (?:handles|does|writes|gets|nails|produces"
    r"|follows|works|covers|formats)\b|\balready (?:\w+ ){0,4}?the way we want\b|\bnails? it\b"
    r"|\b(?:format\w*|tone|style|voice|structure|layout)\s+(?:is\s+|are\s+|was\s+)?(?:ok|okay|fine|good|right|correct)\b(?!\s+(?:only|most|some|half|sometimes))"
)
_SHORT = re.compile(
    r"fell short|falls? short|not good enough|(?:wasn'?t|isn'?t|not) enough|didn'?t (?:get|work|help|stick|cut)"
    r"|doesn'?t (?:work|help|stick|cut|fit|scale)|did not (?:get|work|help)|does not (?:work|help)|no luck|gave up|giving up"
    r"|(?:can'?t|couldn'?t|unable to|haven'?t been able to|cannot) (?:get|make|stop|fix|keep|follow|handle|match|hold|stick)|still (?:wrong|off|bad|worse|inconsistent|drifts?|ignores?|sounds?|misses)"
    r"|ignor(?:es|ed|ing)|keeps? (?:drifting|forgetting|ignoring|breaking|slipping)|hit a wall|plateau|struggl|failed|fails"
    r"|tried everything|no matter how|despite|weeks of|months of|not reliabl|unreliabl|inconsistent|hit or miss|flaky"
    r"|only (?:gets|got) us|not quite|falling short|short of|\bmiss(?:es|ed|ing)?\b|slips?|kind of works|sort of works"
    r"|no joy|no dice|no success|nothing worked|didn'?t get anywhere|to no avail|for ages"
    # verbs of a prompt losing the behaviour, and "no good", "sucks", "isn't getting the phrasing right"
    r"|\bno good\b|\bnot (?:any |much )?(?:good|use|help)\b|\buseless\b|\bsucks?\b|\bok-?ish\b|\bso-?so\b|\blos(?:es|t|ing)\b|\bdrift\w*"
    r"|\bmangl\w+|\bmix(?:es|ed)? up\b|\bmess(?:es|ed)? up\b|\bconfus\w+|\bhallucinat\w+|\bmisrout\w+|\bmisclassif\w+|\bmislabel\w+"
    r"|(?:isn'?t|aren'?t|wasn'?t|weren'?t|not|doesn'?t|don'?t|didn'?t|can'?t|won'?t|never)\s+(?:\w+\s+)?(?:getting|get|gets|got|doing|do|does|did|producing|following|keeping|matching|hitting)\b"
    r"|\bgets? (?:\w+ ){0,3}?wrong\b|\boff\b|disaster\w*|terrible|awful|horrible|garbage|rubbish|unusable|underwhelm\w*|disappoint\w*"
    r"|frustrat\w+|painful|a mess\b|not there yet|wobbl\w*|wanders?|varies|unpredictabl\w+|hit and miss|like a robot"
    r"|\bstill (?:\w+ )?(?:writes|reads|feels|comes out|looks|sounds|uses|adds|produces|gets|makes|says|puts|breaks|fails|drops|ignores"
    r"|invents|hallucinates|too|not|isn'?t|doesn'?t|can'?t|won'?t)\b"
    # what people say of a prompt's output when it falls short: "didn't fix it", "too polite", "meh", "generic"
    r"|(?:didn'?t|did not|doesn'?t|does not|couldn'?t|can'?t|won'?t|never) (?:\w+ )?(?:fix|solve|capture|nail|got|get|worked|managed|fixed|captured|nailed)"
    r"|\btoo (?:long|short|generic|verbose|polite|formal|casual|wordy|bland|salesy|stiff|robotic|inconsistent|vague|chatty)"
    r"|\bgeneric\b|\bbland\b|\bmeh\b|all over the place|\b(?:not|wasn'?t|isn'?t|weren'?t|aren'?t) (?:\w+ )?(?:good|great|there|right|reliable|consistent|usable|enough|fine|ok|okay|acceptable)\b|\bbad\b|\bpoor\w*|mediocre"
    r"|\bwrong\b|close,? but not|\b(?:got|gets|came|comes|is) close,? but\b|only (?:some|part) of the time|half (?:of )?the time|\bsometimes\b|\bbreaks?\b|\bdrops?\b"
    r"|\bforgets?\b|\binvents?\b|makes? (?:\w+ )?up\b|plateau\w*|not (?:yet )?(?:usable|enough)"
    # "prompting isn't cutting it", "better but not there", "enforces the glossary badly", "users still complain",
    # "mixes the grades", "prompts don't give us the format"
    r"|(?:isn'?t|aren'?t|wasn'?t|not) cutting it|\bnot (?:quite )?there\b|\bbadly\b|\bcomplain(?:s|ed|ing)?\b|\bmix(?:es|ed)\b"
    r"|(?:don'?t|doesn'?t|didn'?t|do not|does not|did not) (?:\w+ )?(?:give|gives|produce|follow|respect|stick)\b"
)
_TRIED = re.compile(
    r"\b(?:tried|trying|prompted|gave|added|played with|experimented with|we've been|we have been|iterat\w+ on|tweak\w*|spent|use[ds]?|using|wrote|written|have a|our)\b"
)
_LARGE = re.compile(
    r"\b(?:huge|massive|giant|enormous|bloated)\s+(?:[\w-]+\s+)?(?:system\s+)?prompt"
    r"|prompt (?:is|has grown|runs|of) (?:\w+\s+){0,2}?(?:huge|massive|giant|enormous|bloated)"
    r"|(?:\d[\d,]*|dozens of|forty|fifty) (?:few-shot )?examples in (?:every|each) (?:prompt|request|call)"
    r"|(?:dozens of|forty|fifty|[3-9]\d|\d{3,}) (?:few-shot )?examples in the prompt"
    r"|(?:on|in|with) every (?:single )?(?:request|call)|costly at (?:our )?volume|paying for (?:\w+\s+){0,3}tokens"
    r"|prompt (?:\w+ ){0,2}?(?:costs?|is costing) (?:a lot|too much|\w+ much)"
    r"|(?:prompt|request|context|ctx)s? (?:gets?|got|is|are|=|becomes?|grows?|grew|has grown) (?:\w+ )?(?:huge|massive|enormous|too long)"
    r"|makes? (?:every|each|the) (?:\w+ )?(?:request|prompt|call)s? (?:\w+ )?(?:huge|massive|enormous|too long)"
)


# A score as a fraction after the metric's name ("few-shot F1 0.61", "zero-shot acc 0.57", "ROUGE-L 0.31", "F1 of
# 0,58"): read as the percentage it is. Kappa is not here: it measures how far labellers agree, not a prompt.
_METRIC = re.compile(
    r"\b(?:(?:macro[- ]|micro[- ])?f1|acc(?:uracy)?|precision|recall|rouge(?:-\w+)?|qwk|ndcg(?:@\d+)?|exact[- ]match|auc)"
    r"(?:\s+on\s+(?:the\s+|our\s+)?[\w-]+(?:\s+(?:set|split|tickets|cases))?)?"  # "F1 on urgency was 0.58"
    r"(?:\s*(?:score|of|=|:|at|is|was|were|around|about|~|≈|only|just))*\s*(?P<n>0?[.,]\d{1,3}|1[.,]0{1,3})(?![\d.,]*\s*%)"
)
_DID_TRY = re.compile(
    r"\b(?:we've|i've|they've|did|have|has|we|i|they)\s+(?:(?!not\b|never\b)\w+\s+)?(?:tried|try|tested)\b"
)


def metric_share(text: str) -> int | None:
    """Return the first score given as a fraction after its metric's name, as a percentage ("F1 0.61" is 61)."""
    m = _METRIC.search(text)
    return round(float(m.group("n").replace(",", ".")) * 100) if m else None


_NOTHING_TRIED = re.compile(
    r"\b(?:haven'?t|have not|not|didn'?t|did not) (?:yet )?(?:tried|done|attempted) (?:anything|much|a thing)\b"
    r"|\bnothing (?:tried|yet)\b"
)


def prompting(clause: str, *, focus: bool = False) -> str | None:
    """not_tried, fell_short or good_enough when the clause is about prompting (or answers that question)."""
    if _NOTHING_TRIED.search(clause):  # "haven't tried anything yet" needs no mention of prompts
        return "not_tried"
    if not focus and not PROMPT_WORDS.search(clause):
        return None
    # "prompting is at 65%", "prompt 75%", "95% accurate": a share of success; "fails 30% of the time" one of failure;
    # "costs 20% more" neither. Read per clause: "follows it 60% of the time and the prompt costs a lot".
    for part in clauses(clause) if not focus else [clause]:
        share = percent(part)
        if share is None:
            share = metric_share(part)
        if share is not None and not re.search(
            r"\b(?:cost\w*|pay\w*|price\w*|cheaper|more expensive|tokens?|budget)\b", part
        ):
            failing = re.search(
                r"\b(?:wrong|fail\w*|breaks?|miss\w*|errors?|drops?|ignor\w*|off)\b[^%]*%|%[^.]*\b(?:wrong|fail\w*|breaks?|miss\w*|errors?|off)\b",
                part,
            )
            return "fell_short" if failing or share < 80 else "good_enough"
    share = metric_share(clause)  # "f1 of 0,58": a decimal comma splits the clauses above, not the whole
    if share is not None:
        return "fell_short" if share < 80 else "good_enough"
    no = _NOT_TRIED.search(clause)
    if no and not _DID_TRY.search(clause[: no.start()]):  # "we did try a prompt ... we could not use it": tried
        return "not_tried"
    good = [
        g
        for g in _GOOD.finditer(clause)
        if not re.search(r"(?:\bnot|n't|\bnever|\bcannot|\bhardly|\bbarely)\b[^,;]*$", clause[: g.start()])
    ]
    if good:
        # "decent but the tone wobbles" takes the verdict back; "it works, but it's expensive" keeps it (cost is
        # step 1's large-prompt case, not a shortfall in quality), and so does "format ok but it makes up the
        # policy" (missing facts are step 2's knowledge gap, which no prompt closes).
        turn = re.search(r"\b(?:but|though|although|except|however|yet)\b(.*)", clause[good[0].end() :])
        if (
            turn
            and _SHORT.search(turn.group(1))
            and not _COST.search(turn.group(1))
            and not _GOOD.search(turn.group(1))
            and not KNOWLEDGE.search(turn.group(1))
        ):
            return "fell_short"
        return "good_enough"
    if _SHORT.search(clause):
        return "fell_short"
    return None


# A sentence right after one about the prompt that speaks of "it" or of the output is a verdict on the prompt:
# "Our triage prompt is 9k tokens. It works, accuracy is good enough, but the bill is crazy."
_FOLLOW_UP = re.compile(
    r"^\W*(?:(?:but|and|so|still|honestly|tbh)\W+)?(?:it|it's|that|this|which|they|works|worked|mostly|output|outputs|results?|quality|accuracy|answers"
    r"|tone|voice|format|formatting|style|structure|(?:macro[- ])?f1|rouge\S*|recall|precision|qwk|ndcg\S*|scores?"
    r"|(?:the|its) (?:output|outputs|results?|quality|accuracy|answers|format|tone|style))\b"
)


def prompting_follow_up(clause: str) -> str | None:
    """Return the verdict (as `prompting` gives it) in a sentence that follows talk of a prompt without naming
    it again; None if the sentence does not follow on.
    """
    return prompting(clause, focus=True) if _FOLLOW_UP.search(clause) else None


def prompt_tried(clause: str) -> bool:
    """Tell whether the clause says a prompt was tried or is in use."""
    return bool(PROMPT_WORDS.search(clause) and _TRIED.search(clause))


# "long" or "large" alone is a description ("GPT-4.1 with a long prompt gets 74%"); with a cost it is the step-1 case.
_LONG = re.compile(
    r"\b(?:long|large|big|lengthy)\s+(?:[\w-]+\s+)?(?:system\s+)?prompt|prompt (?:is|has grown|runs) (?:\w+\s+)?(?:long|large|big)"
)
_COST = re.compile(
    r"\b(?:expensive|costly|cost\w*|pricey|bill|budget|pay\w*|per (?:call|request|ticket|turn|message)|at (?:our )?volume|latency|slow)\b"
)


# Material placed in the prompt on every call: "we paste the entire ninety-page handbook into every request", "our
# prompt includes the full 38-page employee handbook", "the whole price list pasted in the prompt", "the screener
# bundles the 60-page job architecture doc with every resume".
_PLACED = re.compile(
    r"\b(?:past\w*|stuff\w*|put|puts|putting|includ\w*|load\w*|dump\w*|cram\w*|insert\w*|cop(?:y|ies|ied|ying)|send\w*"
    r"|sent|add\w*|goes (?:out|into|in)|go (?:out|into|in)|feed\w*|fed|inject\w*|bundl\w*|prepend\w*|attach\w*|append\w*"
    r"|contain\w*|gets|carr(?:y|ies|ied))\b"
)
_EVERY = re.compile(
    r"\b(?:every|each|per|w) (?:single )?(?:one of (?:our |the |~?[\d,.k]+ )?)?(?:[\w-]+ )?(?:request|call|prompt|question|time|query"
    r"|turn|consultation|enquiry|inquiry|message|ticket|generation|email|e-mail|resume|text|listing|chat|conversation|reply|run)s?\b"
)
_INTO = re.compile(
    r"\b(?:in|into|inside|to|with)\s+(?:the |our |every |each |its |their |a |my )?(?:[\w-]+ )?(?:system )?prompts?\b"
    r"|\bprompts?\b[^.;]{0,30}\b(?:includ\w*|contains?|holds?|has)\b|\bpasted in\b|" + _EVERY.pattern
)
_WHOLE = re.compile(r"\b(?:whole|entire|full|complete|all (?:the|our|of|its|\d+)|the top \d+)\b")
# Said as cheap, or as what might be done but is not: "costs pennies", "would be impossible", "someone suggested it".
_CHEAP = re.compile(
    r"\b(?:cheap\w*|inexpensive|negligible|pennies|low[- ]cost|costs? (?:us )?(?:almost |next to )?nothing"
    r"|not (?:that |very |too |really )?(?:expensive|costly|slow|pricey)|under \$|cost is (?:\w+ )?(?:nothing|negligible|tiny|low|small)"
    r"|(?:is|are) (?:both |all )?fine)"
)
_NOT_DONE = re.compile(
    r"\b(?:would|suggest\w*|never|impossible|not possible|demo\w*|if we|could|won'?t|whether|debating"
    r"|consider\w*|thinking about|plan(?:ning)? to)\b"
)
# Tokens said of what the model writes or of the documents, not of the prompt: "the responses are like 4-5k tokens".
_NOT_PROMPT = re.compile(
    r"\b(?:respons\w+|outputs?|answers?|summar\w+|completions?|generat\w+|repl(?:y|ies)|documents?|docs|files?|transcripts?)\b"
)
LARGE_PROMPT_TOKENS = 5000  # a prompt this long (about eight pages) is large whatever is said of its cost
COSTLY_PROMPT_TOKENS = 2000  # ... and from this long when its cost or slowness is said too


def costly(clause: str) -> bool:
    """Tell whether the clause says something costs money or time, and not that it is cheap."""
    return bool(_COST.search(clause)) and not _CHEAP.search(clause)


def prompt_size(clause: str) -> str | None:
    """Return "large" when the clause says today's prompt is large whatever its cost (a huge prompt, LARGE_PROMPT_TOKENS
    or more, a whole document in every call), "long" when it is large if its cost is said too (COSTLY_PROMPT_TOKENS or
    more, a long prompt, a whole guide placed in it), else None.

    A size said of the prompt decides: "our two-page FAQ pasted into the prompt" and "a 1,500-token prompt gets 84%"
    are not large (their writers said so), "a 14-page style guide in every request" is; "the docs are 150 pages" is
    not the prompt's size, nor is "pasting the whole library would be impossible" today's prompt.
    """
    if not (PROMPT_WORDS.search(clause) or "few-shot" in clause or "tokens" in clause or _INTO.search(clause)):
        return None
    if _NOT_DONE.search(clause):
        return None
    placed = bool(_PLACED.search(clause) and _INTO.search(clause))
    # tokens are a prompt's measure wherever they are said; pages and words are the prompt's only near it
    size = max([*sizes(clause, ("token",), _NOT_PROMPT), *sizes(clause if placed else _near_prompt(clause))], default=0)
    if size:  # a long prompt sent on every call is the cost the writer means ("~3,000 tokens sent on every call")
        long = size >= COSTLY_PROMPT_TOKENS
        return "large" if size >= LARGE_PROMPT_TOKENS or long and _EVERY.search(clause) else "long" if long else None
    if _LARGE.search(clause):
        return "large"
    if _LONG.search(clause):
        return "long"
    if placed and _WHOLE.search(clause):
        return "large" if _EVERY.search(clause) else "long"
    return "long" if placed and _EVERY.search(clause) else None


def prompt_large(clause: str) -> bool:
    """Today's prompt is large and costly (prompt_size, with its cost said where the size alone does not decide)."""
    size = prompt_size(clause)
    return size == "large" or size == "long" and costly(clause)


_PROMPT_NOUN = re.compile(r"\bprompts?\b|\bsystem message\b|\bcontext\b|" + _EVERY.pattern)


def _near_prompt(clause: str, reach: int = 45) -> str:
    """Return the parts of the clause within `reach` characters of the prompt or of "every call": where a size said
    is the prompt's ("the prompt is 12 pages", "~11k input tokens per call"), not the documents' ("docs are 150 pages").
    """
    return " … ".join(clause[max(0, m.start() - reach) : m.end() + reach] for m in _PROMPT_NOUN.finditer(clause))


# ---- step 2: behaviour or knowledge --------------------------------------------------------------------------

BEHAVIOUR = re.compile(
    r"\b(tone|voice(?![- ](?:assistants?|bots?|agents?|calls?|notes?|messages?|interface|input|recognition|channel|app))|stop (?:saying|using|adding|apologi\w+|writing|starting)|step by step|in an? (?:\w+ )?(?:way|manner)|explain\w*|styled?|sound(?:s|ing)? (?:like|less|more)|(?:talk|speak|write)s? like|robotic|stiff|vibe|personality|format\w*|structure[ds]?|concise\w*|verbose|verbosity|shorter|brevity|terse"
    # Transformations and judgements are behaviour, as is following a script, a flow or a convention, and the
    # language a reply is written in: "grade answers on a rubric", "qualify leads with a question flow", "follow
    # our de-escalation script", "always answer in Spanish".
    r"|rewrit\w+|paraphras\w+|translat\w+|normali[sz]\w+|grad(?:e|es|ing)|scor(?:e|es|ing)|rubrics?|triag\w+|redlin\w+|markup"
    r"|(?:respond|reply|answer|sound)\w*\s+(?:\w+\s+)?like|warm|cheerful|playful|witty|punchy|upbeat|snappy|crisp"
    r"|sort\w* (?:\w+ ){0,3}?into|tag(?:s|ged|ging)? (?:\w+ ){0,3}?(?:by|with|as)|buckets?|queues?|rout(?:e|es|ing) (?:\w+ ){0,3}?to|prioriti[sz]\w+|flag(?:s|ging)? (?:\w+ ){0,2}?(?:as|that|which)"
    # What every answer must or must never do: "end with the standard disclaimer", "never give investment advice",
    # "handle returns like our agents do".
    r"|(?:end|start|begin|close|open)s? (?:\w+ ){0,2}?with (?:a|an|the|our)|disclaimers?|never (?:give|say|mention|offer|promise|recommend|discuss|use|reveal|make)"
    r"|(?:handle|treat|deal with|process|approach|tackle)\w* (?:\w+ ){0,3}?like (?:our|the|a|an|how)|like (?:our|the) (?:[\w-]+ ){0,2}?(?:agents?|staff|team|experts?|writers?|editors?|people|humans?|reps?|seniors?) (?:do|does|would)"
    r"|conventions?|scripts?|scripted|(?:question|conversation|dialog\w*|sales|call|qualification|intake|onboarding) flows?"
    r"|checklists?|justifications?|turns? (?:\w+ ){1,3}into|(?:into|in|to) (?:our|the|their|a) (?:[\w'-]+ ){0,2}?(?:format|template|schema|structure|layout|house style)"
    r"|(?:answer|reply|respond|write|speak|talk)\w*\s+(?:\w+\s+){0,2}?in\s+(?:the (?:same|user'?s|customer'?s|caller'?s) language|plain (?:english|language)|english|spanish|french|german|italian"
    r"|portuguese|dutch|polish|czech|swedish|danish|norwegian|finnish|japanese|chinese|korean|arabic|turkish|russian|ukrainian|hindi|greek|hungarian|romanian)"
    r"|terminology|(?<!warranty )(?<!payment )(?<!contract )(?<!license )(?<!licence )(?<!loan )(?<!credit )(?<!trade )(?<!delivery )(?<!rental )(?<!lease )(?<!new )(?<!updated )(?<!current )(?<!latest )(?<!policy )(?<!insurance )(?<!legal )terms(?! (?:and|&) conditions| of (?:service|use|sale|the (?:contract|policy|agreement)))|jargon|(?<!policy )(?<!contract )(?<!legal )(?<!regulatory )(?<!current )(?<!exact )wording|phrasing|persona|brand|polite|formal|casual"
    r"|friendl\w+|empath\w+|json|schema|fields|extract\w*|classif\w+|categor\w+|label\w*|refus\w+|summar\w+|bullet\w*"
    r"|markdown|template|consistent\w*|always (?:answer|respond|reply|use|start|end|write)|writ(?:e|ing|es) (?:[\w-]+ ){0,2}?(?:like|in the style)|writ(?:e|ing|es) in"
    r"|house style|guidelines?|behaviou?r|manner|register|rambl\w+|too long|(?:under|below|at most|max(?:imum)?|no more than|fewer than|less than|within) \d+ (?:words|characters|sentences|lines|paragraphs)|hedg\w+|apologi\w+|sign-?off|greeting)\b"
)
KNOWLEDGE = re.compile(
    r"\b(knowledge(?: base)?|kb|docs|documentation|documents|manuals?|wiki|handbook|faqs?|intranet|confluence|notion"
    r"|pricing|prices?|price list|catalog(?:ue)?|inventory|stock levels?|specs?|specifications|product (?:info\w*|details|data)"
    r"|policies|(?:leave|refund|returns?|travel|expense|hr|company|cancellation|shipping|warranty) policy|contracts?|changelog|release notes|codebase|internal (?:data|information|info)(?!\s+(?:only|stays?|must|can'?t|cannot|never|is (?:confidential|sensitive|private)))|facts?|help ?cent(?:re|er)|rate cards?"
    r"|recent (?:events|news|changes)|real[- ]time|current (?:prices|stock|status|offers)|news|look(?:s|ing)? up"
    r"|(?:answer(?:s|ing)? (?:questions? )?(?:about|on|from|using|based on)|questions (?:about|on))(?!\s+an? (?:[\w-]*\d|scale|rubric))(?!\s*~?\d| (?:a few |several )?(?:dozens?|hundreds?|thousands?)\b)"
    r"|cit(?:e|es|ed|ing)|citations?|sources"
    # Facts read from a live system or a source named as where an answer comes from: "reads live alarms from our
    # NMS", "the answer should come from our TMS", "crew-scheduling Q&A from live rosters", "take info from manuals".
    r"|live (?!chat|agents?|support|demos?|streams?|person|humans?|in\b|with\b|on\b)[a-z]+"
    r"|aware of|up[- ]to[- ]date (?:on|with)|informed (?:about|of)|familiar with|(?:same|recurring|repeat\w*|common|frequent|typical|basic|routine) (?:[\w-]+ )?questions"
    r"|check\w* (?:the|our|their) (?:[\w-]+ )?(?:warehouse|inventory|stock|calendar|records?|files?|schedule|roster|diary|bookings?|availability)"
    r"|(?:read|reads|reading|pull|pulls|pulling|fetch\w*|take|takes|taking|grab\w*|draw|draws|drawing|drawn|come|comes|coming|sourced|based|looked up)\s+(?:[\w-]+\s+){0,3}?from\s+(?:our|the|their|its|a|an|each|every|live)\b"
    r"|(?:q&a|chatbot|bot|assistant)\s+(?:\w+\s+)?(?:from|over|on top of|grounded in|based on)\s+(?:our|the|their|live|a|an)\b"
    r"|grounded in|current (?:standards|rules|regulations|laws?|guidance|wording|rate sheets?|rates|tariffs?|terms|products|polic\w+|prices|pricing|stock|availability|offers|api|docs|documentation|catalog\w*|listings|menu|inventory|schedule\w*|roster\w*)"
    r"|rate sheets?|formular(?:y|ies)|listings|rosters?|lore|case law|precedents?|playbooks?"
    r"|retriev\w+|search(?:es|ing)? (?:our|the|through)|needs? to know|know(?:s|ing)? (?:about )?(?:our|the|their|what)"
    r"|product line|(?:from|in|on) our (?:\w+ )?(?:list|database|inventory|listings|records)|doesn'?t know|does not know|hallucinat\w+|terms (?:and|&) conditions"
    # Live data and the systems it lives in: "live data from our order-tracking API", "the status of a refund in our
    # payments system", "look it up in our orders", "which lives in Jira", "room availability", "today's menu".
    r"|(?:live|real[- ]time|current|up[- ]to[- ]date|today'?s|latest)\s+(?:\w+\s+)?(?:data|status|stock|availability|prices?|tariffs?"
    r"|fares?|departures|arrivals|cancellations|usage|deadlines|due dates?|events|offers|terms|opening times"
    r"|rates?|information|info|numbers|figures|schedules?|menus?|specials|forecast|balance|listings|rules|products?)"
    # A system read from ("from our billing platform", "call its API", "in our CRM"); "our API error messages"
    # names no source.
    r"|(?:from|in|into|via|using|through|against|with|call\w*|quer(?:y|ies|ying)|hit\w*|check\w*|on)\s+(?:our|its|their|the|a|public"
    r"|external|third[- ]party)\s+(?:[\w-]+\s+){0,2}?(?<!openai )(?<!openai's )(?:apis?|endpoints?|databases?|db|erp|crm|spreadsheets?"
    r"|google sheets?|platform|portal|backend|ledger|registry|(?<!prompt )system)(?!\s+(?:prompts?|messages?|instructions?))\b"
    r"|(?:our|its|their)\s+(?:[\w-]+\s+){1,2}?system(?!\s+(?:prompts?|messages?|instructions?))\b"
    # A record looked up for the person asking, or facts of the day: "their current plan", "today's departures".
    r"|(?:their|your|his|her|the customer'?s|customers'|callers'?|users'?)\s+(?:own\s+)?(?:current\s+|next\s+|latest\s+|remaining\s+|upcoming\s+)?"
    r"(?:order|account|invoice|bill|balance|plan|usage|booking|reservation|tariff|contract|subscription|policy|claim|shipment"
    r"|delivery|appointment|ticket|project|case|application|loan|payment|refund|parcel|package|machine|device)s?"
    r"|(?:their|your)\s+(?:current|next|latest|remaining|upcoming)\s+\w+|(?:is|are)\s+(?:still\s+)?available\b|(?:today|tonight|tomorrow|this week)'?s\s+(?:\w+\s+)?\w+"
    r"|look(?:s|ing)? (?:it|them|this|that|things) up|status of|(?:order|shipment|delivery|refund|claim|project|account|ticket"
    r"|flight|application|case) status|availability|in stock|stock levels?|balances?|schedules?|timetables?|menus?|opening hours"
    r"|forecasts?|exchange rates?|delays|(?:lives?|stored|kept|held|sits?) in|info(?:rmation)? is in"
    r"|(?:that|which|who|should|must|to|will|would|can|also)\s+(?:also\s+)?knows?\b(?!\s+(?:how|if|whether)\b)|(?:has|have) no idea (?:about|of|what|which)"
    r"|(?:doesn'?t|does not|can'?t|cannot|don'?t|do not) (?:see|access|read|have access to) (?:their|our|the|its|any)"
    r"|asks? (?:\w+ )?(?:about|what|who|which|where|when|whether|how many|how much)|answer (?:what|who|which|where|when|how many|how much)"
    r"|tell\w* (?:\w+ ){0,2}?(?:which|where|when|how many|how much|whether)"
    r"|answer\w* (?:the |our |their )?(?:customers?|users?|employees?|students?|tenants?|people|staff|clients?|partners?|players?)\s+(?:about|on|regarding)"
    r"|answer\w* (?:\w+ ){0,2}?questions? (?:about|on|from|using|based on|regarding|with)|questions? (?:regarding|on how)"
    r"|procedures|sops?|protocols|regulations|(?:tax|employment|labou?r|privacy|data protection) (?:laws?|rules|code)|outdated|out of date"
    r"|mak(?:es|ing) (?:\w+ )?up (?:facts|answers|numbers|things|stuff|the)|makes? stuff up|invent(?:s|ing)? (?!(?:its|a|their) own)"
    r"|meeting notes|incident reports|what went wrong)\b"
)
# "answer about 900 emails" counts emails: only "answer questions about <a subject>" asks for facts.
# Freshness talk ("always use the latest version", "updated weekly") is about which facts to use: knowledge.
FRESH = re.compile(
    r"\b(?:latest|newest|most recent|up[- ]to[- ]date)\b(?! (?:\w+ )?(?:models?|gpt|llama|claude|gemini|mistral)\b)"
    r"|\bcurrent (?:version|edition|release|docs|pages|polic\w+|rates|figures|terms|menu|schedule|timetable|hours"
    r"|opening hours|fees|offers|catalog\w*|info\w*|data)\b|\b(?:version|edition)s? (?:changes?|is updated)\b"
    r"|\b(?:updated|refreshed|published|republished|revised|change[sd]?)\s+(?:\w+\s+)?(?:every|each|daily|weekly|hourly"
    r"|nightly|monthly|constantly|all the time|regularly)\b"
)
# "always use/answer ..." and "consistent" name a habit, not a style; beside freshness they ask for current facts.
_WEAK = re.compile(r"^(?:always \w+|consistent\w*)$")
# A clause that rules its style talk out: "we're happy with the tone", "the format is already right", "style isn't
# the problem", "no complaints about the tone", "not the tone". (Not "is not right", "would be happy with shorter".)
_RULED_OUT = re.compile(
    r"(?<!be )\b(?:happy|satisfied|pleased|content|fine|ok|okay|comfortable)\s+with\b"
    r"|\b(?:is|are|'s|'re|was|were|looks?|seems?|sounds?|feels?)\s+(?!not\b|never\b|hardly\b|barely\b|rarely\b)"
    r"(?:\w+\s+)?(?:already\s+)?(?:fine|good|great|ok|okay|right|correct|spot[- ]on|perfect|acceptable|on point|ideal)\b(?!-)"
    r"(?!\s+(?:most|some|half|only|sometimes|about|around|enough|\d))"
    r"|\b(?:isn't|is not|aren't|are not|'s not|'re not|wasn't|was not)\s+(?:really\s+|actually\s+)?(?:the|an?|our)?\s*"
    r"(?:\w+\s+)?(?:issue|problem|concern)\b|\b(?:problem|issue)\s+(?:isn't|is not|'s not|wasn't)\b"
    r"|\bnothing wrong with\b|\bno (?:complaints?|problems?|issues?)\s+(?:with|about|on)\b|\bno need to\b"
    r"|\b(?:don't|do not|doesn't|does not)\s+(?:need|want)\s+(?:to\s+)?(?:change|fix|touch|adjust|tweak)\b"
    r"|\b(?:don't|do not) (?:really )?care (?:much )?about\b|\b(?:doesn't|does not|don't) matter\b|\b(?:not|isn't) about\b"
    r"|^\W*(?:it's |it is |the problem is |the issue is )?not (?:the |our |its |about )?\w+\W*$"
    r"|\b(?:don'?t|do not|doesn'?t|does not)\s+have\s+an?\s+(?:\w+\s+)?(?:problem|issue|gap)\b"
    r"|\b(?:don'?t|do not|doesn'?t|does not)\s+(?:want|need)\s+(?:it|the model|the bot|them)?\s*to\s+know\b"
    r"|\b(?:don'?t|do not|doesn'?t|does not)\s+(?:want|need)\s+(?:any\s+)?(?:new\s+|more\s+)?(?:facts|knowledge|information|info)\b"
    r"|\b(?:gets?|got|has|have)\s+(?:the\s+)?(?:facts|content|answers|information|info)\s+(?:right|correct)\b(?!\s+(?:only|most|some|half|sometimes))"
    r"|\banswers? correct(?:ly)?\b"
    # The facts come with each request, or the model has them: "the facts are all in the input", "it already knows
    # the domain", "doesn't need to know anything beyond the ticket".
    r"|\b(?:facts|information|info|everything|all it needs|details)\s+(?:\w+\s+){0,2}?(?:is|are|comes?|come)\s+(?:all\s+|already\s+)?(?:in|with|given in|provided in|contained in)\s+(?:the|each|every)\s+(?:input|ticket|email|message|request|document|text|prompt|form|call)"
    r"|\balready knows?\b|\b(?:doesn'?t|does not|don'?t|do not) need to know (?:anything|much)\b"
)
_SPLIT = re.compile(
    r"[,;]\s*(?:(?:and|but|or|so|yet)\s+)?|\s*[()]\s*|\s+(?:and|but|while|although|though|because|so|whereas|however|yet)\s+|\s+-\s+|:\s*"
)
_LIST_ITEM = re.compile(
    r"^(?:(?:the|its|our|their|her|his|my|your|a|an)\s+\S+(?:\s+\S+)?|(?:tone|style|format\w*|voice"
    r"|structure|length|wording|layout|terminology|phrasing|grammar)(?:\s+\S+)?)$"
)


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Clauses as (start, end). A bare list item joins its neighbour, so in "we're happy with the tone and the
    format" and "the tone and format are fine" the format is ruled out too; "not the tone, the facts" stays two.
    """
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
        if merged and not re.match(r"\W*(?:it'?s |it is )?not\b", text[merged[-1][0] :].lower()):
            merged[-1] = (merged[-1][0], len(text))
        else:
            merged.append((carry, len(text)))
    return merged


def clauses(text: str) -> list[str]:
    """Split `text` into its clauses (see clause_spans)."""
    return [text[a:b] for a, b in clause_spans(text)]


def ruled_out(clause: str) -> bool:
    """Tell whether the clause rules its topic out as the problem ("we're happy with the tone", "style isn't the
    problem", "not the tone").
    """
    return bool(_RULED_OUT.search(clause))


def behaviour(text: str) -> bool:
    """Tell whether a behaviour (style, format, task) problem is stated: a cue in a clause that does not rule it
    out, and not a bare habit ("always use ...") beside freshness talk.
    """
    spans = clause_spans(text)
    for m in BEHAVIOUR.finditer(text):  # matched on the whole text, so "terms and conditions" stays one phrase
        clause = next((text[a:b] for a, b in spans if a <= m.start() < b), text)
        if (
            ruled_out(clause)
            or _HEDGE.search(clause)
            or _WEAK.match(m.group(0))
            and (FRESH.search(clause) or KNOWLEDGE.search(clause))
        ):
            continue
        return True
    return False


def style_ruled_out(text: str) -> bool:
    """Tell whether some clause rules style talk out ("the tone is fine")."""
    return any(ruled_out(c) and BEHAVIOUR.search(c) for c in clauses(text))


# A cue does not count where it names the thing to write ("write release notes", "drafts contracts"), a team
# ("our docs team"), the lesser half of a comparison ("the format more than the facts"), or where the clause is a
# hedge ("not sure if it is knowledge or style").
_WRITE_BEFORE = re.compile(
    r"\b(?:(?:translations?|summar(?:y|ies)|rewrites?|versions?|drafts?|redlines?)\s+of|write|writes|writing|wrote|draft|drafts|drafting|generate|generates|produce|produces|create"
    r"|compose|translate|rewrite|rewrites|summari[sz]e|summari[sz]es|convert|turn)\s+(?:[\w'-]+\s+){0,3}$"
)
_LESSER = re.compile(r"\b(?:more than|rather than|instead of|not about|other than|than)\s+(?:the\s+|our\s+)?$")
# "5k tickets exported from our CRM" is where data came from; "answers pulled from the manuals" is retrieval.
_DATA_FROM = re.compile(
    r"(?:\d|\b(?:tickets|chats|conversations|emails|examples|logs|data|transcripts|messages|replies|samples))"
    r"[^.;]*\b(?:export\w*|pulled|collected|gathered|taken|came|logged|scraped|sampled|dumped)\b[^.;]*\bfrom\s+(?:[\w-]+\s+){0,3}$"
)
_HEDGE = re.compile(r"\b(?:not sure|unsure|don'?t know|do not know|no idea|wondering|unclear) (?:if|whether)\b")
_LISTED = re.compile(
    r"\b((?:labels?|categories|classes|codes|genres|intents|tags|aspects|fields|sections)\s*)\([^)]*\)"
)


def _cue_counts(text: str, m: re.Match, spans: list[tuple[int, int]]) -> bool:
    clause = next((text[a:b] for a, b in spans if a <= m.start() < b), text)
    before = text[max(0, m.start() - 60) : m.start()]
    return not (
        ruled_out(clause)
        or _HEDGE.search(clause)
        or _WRITE_BEFORE.search(before)
        or _LESSER.search(before)
        or _DATA_FROM.search(before)
        or re.match(r"\s+(?:teams?\b|(?:written|drafted|generated|produced|formatted)\b)", text[m.end() :])
        # "our SOP format", "contract redlines", "policy summaries": the cue names the kind of output
        or re.match(
            r"[\s-]+(?:format|template|style|structure|layout|tone|voice|conventions?|schema|redlines?|summar\w+"
            r"|drafts?|letters?|narratives?|clauses?)\b",
            text[m.end() :],
        )
    )


def knowledge(text: str) -> bool:
    """Tell whether a knowledge gap is stated, or freshness is asked for where the clause is not about style."""
    text = _LISTED.sub(r"\1", text)  # "our 9 aspect labels (price, delivery, ...)" names labels, not facts
    spans = clause_spans(text)
    if any(_cue_counts(text, m, spans) for m in KNOWLEDGE.finditer(text)):
        return True
    return any(FRESH.search(c) and not behaviour(c) for c in clauses(text))


def topic(clause: str) -> str | None:
    """Return what the clause is about: "behaviour" first, else "knowledge", else None."""
    return "behaviour" if behaviour(clause) else "knowledge" if knowledge(clause) else None


_PROBLEM_WORDS = {
    "knowledge": "knowledge",
    "facts": "knowledge",
    "information": "knowledge",
    "info": "knowledge",
    "behaviour": "behaviour",
    "behavior": "behaviour",
    "style": "behaviour",
    "tone": "behaviour",
    "format": "behaviour",
    "both": "both",
}
_OTHER = {"knowledge": "behaviour", "behaviour": "knowledge", "both": "both"}


def problem_word(text: str) -> str | None:
    """Read a one-word answer to 'knowledge, behaviour, or both?' (None if it names neither or is unclear); a half
    ruled out ("not the tone") points to the other.
    """
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
    r"(?:change|be replaced|be updated|be revised|be rewritten|evolve|shift|move|be reworked|be redone"
    r"|(?:be )?re(?:organi[sz]|structur|design|nam|defin|writ|plac|vis|work|do|brand|shap|think|categori[sz]|launch)\w*)\b"
    r"|\b(?:change[sd]?|changing|updated|revised|rewritten|replaced|shifts?)\s+(?:\w+\s+)?(?:every|each|often|frequently|constantly"
    r"|all the time|weekly|monthly|daily|regularly|soon|next)\b|\bnext (?:quarter|month|year|week|release|season)\b"
    r"|\bin flux\b|\bevolving\b|\bstill (?:figuring|deciding|iterating|experimenting|changing|working out|debating)"
    r"|\bnot (?:yet |really |very )?(?:stable|settled|final|fixed|decided|agreed)\b|\bisn'?t (?:yet |really |very )?(?:stable|settled|final|fixed)\b"
    r"|\bunstable\b|\brebrand\w*|\bmoving target\b|\bkeeps? changing\b|\bchanges? (?:a lot|often|quickly)\b|\bin progress\b"
    r"|\bchang\w* (?:\w+ ){0,2}?(?:whenever|every time|each time|a few times|several times|many times|twice|\d+ times)\b"
    r"|(?<!it )(?<!them )(?<!ship )(?<!ships )(?<!shipping )(?<!release )(?<!releasing )(?<!deploy )(?<!deploying )(?<!meet )(?<!report )\b(?:weekly|daily|monthly)\b(?=\s*(?:$|[,.;)!?]|and\b|or\b))|\bvolatile\b|\bnew (?:guidelines|style guide) (?:soon|next)\b"
    r"|\bnew (?:\w+ )?(?:template|format|schema|version|guidelines?|rules|style guide|categories)\b(?:\s+\w+)?\s+(?:every|each)\b"
    # A change under way, in the present: "is being relaunched", "gets rewritten from scratch", "we're redoing the
    # format", "under review", "partners are rewriting it", "pivoting to B2B", "gets reworked every month".
    r"|\b(?:being|gets?|getting|got) (?:\w+ )?(?:re[a-z]{3,}ed|changed|overhauled|replaced|updated|revamped|scrapped|redone|rewritten)\b(?!\s+(?:once|years? ago|last year|in 20\d\d))"
    r"|\b(?:is|are|'re|am|'m|we're|they're)\s+(?:currently |now |actively |still )?(?:re(?!ad|ply|ceiv|tain|quir|spond|main|ach|turn|ly|ferr|present|view|port|gister|ject|lat|sult|ason|search|cord)[a-z]{3,}ing|changing|overhauling|replacing|revamping|scrapping|pivoting|moving to|switching to)\b"
    r"|\b(?:still )?being (?:finali[sz]ed|drafted|defined|worked out|decided|discussed|developed|designed|written|agreed|negotiated)\b|\bstill (?:in draft|a draft|a work in progress)\b"
    r"|\bnot (?:yet )?(?:set|carved|written) in stone\b|\bkeeps? (?:tweaking|changing|revising|updating|rewriting|adjusting|reworking|editing)\b"
    r"|\b(?:constantly|always|forever) (?:tweak|chang|revis|updat|rewrit|adjust)\w*|\bmid-re\w+"
    r"|\bunder (?:review|revision|discussion|construction|development|negotiation)\b|\bpivot\w*|\boverhaul\w*|\bfrom scratch\b|\bup in the air\b"
    r"|\b(?:will|going to|about to|may|might|could)\s+(?:\w+\s+){0,2}?(?:totally |completely |probably )?(?:change|shift|look different|be different)\b"
)
_STABLE = re.compile(
    r"\b(?:stable|settled|established|long[- ]standing|locked(?: in| down)?|finali[sz]ed|fixed for)\b"
    r"|\b(?:won'?t|will not|doesn'?t|does not|hasn'?t|has not|haven'?t|rarely|never|shouldn'?t|isn'?t going to)\s+(?:\w+\s+){0,2}?(?:change|changed|evolve|move)\b"
    r"|\b(?:set|carved|written) in stone\b|\bsame (?:for|since) (?:years|ages|a long time)\b|\bfor (?:years|ages|a decade)\b|\bunchanged\b|\bconsistent for\b"
)


def stability(clause: str) -> bool | None:
    """Return False when the clause says the behaviour will change, True when it says it is stable, None when
    it says neither.
    """
    if _CHANGING.search(clause):
        return False
    if _STABLE.search(clause):
        return True
    return None


# ---- step 5: the path -------------------------------------------------------------------------------------------

# Where the data may go, said in so many words: "must stay on our servers", "can't leave the building", "on-prem only".
_PRIVATE_SAID = re.compile(
    r"\b(?:must|has to|have to|needs? to|should|got to)\s+(?:\w+\s+){0,2}?(?:stay|remain|be kept|live|be hosted|run)\s+(?:on|in|within|inside|behind)\b"
    r"|\b(?:stays?|remains?|is kept|are kept|lives?)\s+(?:only\s+)?(?:on|in|within|inside|behind)\s+(?:our|the company'?s?|the hospital'?s?|the firm'?s?)\s+(?:own\s+)?(?:servers?|machines|hardware|infrastructure|network|premises|building|walls|firewall|data ?cent(?:er|re)s?|cloud|tenant|vpc|systems?)\b"
    r"|\bon[- ]?prem\w*|\bself[- ]host\w*|\bour own (?:servers?|infrastructure|hardware|gpus?|cloud|machines|data ?cent(?:er|re))"
    r"|\b(?:can'?t|cannot|can not|must not|mustn'?t|may not|shouldn'?t|should not|won'?t|not allowed to|never)\s+(?:\w+\s+){0,3}?"
    r"(?:leave|go|be sent|send|share|shared|upload|uploaded|use|leaves|touch|be used)\b"
    r"|\b(?:nothing|no data|none of (?:it|this|our data))\s+(?:\w+\s+){0,2}?(?:can|may|should|is allowed to)\s+(?:\w+\s+){0,2}?(?:go|leave|be sent|be shared)\b"
    r"|\b(?:forbid\w*|prohibit\w*|not permitted|banned|bans)\b|\bno (?:third[- ]part\w+|external|cloud|outside)\b"
    r"|\bair[- ]gapped\b|\bin[- ]house\b|\bfirewall\b|\bdata residency\b|\b(?:internal|local|in-house|on-?prem)(?: data| use| hosting)? only\b|\bonly (?:internal(?:ly)?|local(?:ly)?|in-house|on-?prem\w*)\b|\bstays? (?:internal|local|inside|in-house)\b|\bno[- ]go\b|\bnon[- ]starter\b|\bout of the question\b|\boff the table\b|\bdeal[- ]?breaker\b|\bnot an option\b"
)
# What makes data sensitive, without a word on where it may go ("patient portal", "confidential contracts", "GDPR"):
# read as "keep it in-house" too, but a clause that says where the data goes is the better quote (privacy_said).
_PRIVATE_TOPIC = re.compile(
    r"\bconfidential|\bsensitive\b|\bproprietary\b|\bprivacy\b|\bprivate\b"
    r"|\bhipaa\b|\bgdpr\b|\bpii\b|\bphi\b|\bregulat\w+|\bcompliance\b|\bsovereign\w*|\bnda\b|\bclassified\b|\bpatient\b|\bmedical records\b"
)
_OPENAI_OK = re.compile(
    r"\b(?:can|may|could|is allowed to|are allowed to|fine to|ok to|okay to|happy to|allowed to|able to|free to)\s+(?:\w+\s+){0,2}?"
    r"(?:go|be sent|send|upload|share|use|be shared|be uploaded)\b"
    r"|\b(?:openai|the cloud|a hosted api|hosted apis?|third[- ]part\w+)\s+(?:is|are)\s+(?:fine|ok|okay|allowed|acceptable|no problem)"
    r"|\bfine with (?:openai|sending|uploading|the cloud)|\b(?:no|not a|not an) (?:privacy |data )?(?:concern|issue|problem|constraint)s?\b"
    r"|\balready (?:use|using|on|pay for|send)\b|\bpublic(?:ly available)? data\b"
    r"|\bdata is public\b|\bdon'?t mind\b"
)
# Said before the keep-it-private words are checked, since "no privacy concerns" holds one of them.
_NO_CONCERN = re.compile(
    r"\bno (?:real |big )?(?:privacy|data|security|confidentiality|compliance) (?:concerns?|issues?|problems?|constraints?|restrictions?)\b"
    r"|\bopenai\s+(?:is\s+|are\s+)?(?:fine|ok|okay|allowed|acceptable)\b|\bpublic (?:[\w-]+ )?(?:reviews|data|information|content|posts|records|documents|comments|pages|articles|docs|documentation|text)\b"
    r"|\bdata:? (?:is |are )?public\b|\breviews are public\b"
)
# Permission to send data out, said the many ways people say it: "we're fine sending this data to OpenAI", "legal
# cleared sending the notes to OpenAI", "clients agreed to OpenAI processing", "our OpenAI enterprise agreement
# covers this data", "OpenAI enterprise is approved for this", "data can go wherever", "OK to send to OpenAI".
_CLOUD = r"(?:openai|open ai|gpt[\w.-]*|chatgpt|azure(?: openai)?|anthropic|claude|gemini|the cloud|cloud|(?:an? |any )?(?:external|hosted|third[- ]party|public|cloud) (?:api|apis|llm|model|provider|vendor|service)s?|third[- ]part(?:y|ies)|vendors?|external (?:providers?|services?))"
_PERMIT = (
    r"(?:fine|ok|okay|happy|comfortable|allowed|permitted|approved|cleared|agreed|consented|signed off|green[- ]?lit"
    r"|no problem|not a problem|acceptable|authori[sz]ed|free)"
)
_CLOUD_OK = re.compile(
    rf"(?<!not )(?<!n't )(?<!never )\b{_PERMIT}\s+(?:\w+\s+){{0,3}}?(?:to\s+|with\s+|for\s+)?(?:send|sending|use|using|upload|uploading|share|sharing|process\w*|go|going|putting|put)\b[^.;]*\b{_CLOUD}"
    rf"|\b{_CLOUD}\s+(?:\w+\s+){{0,3}}?(?:is|are|'s|was|has been|have been)\s+(?:totally |completely |perfectly |also |already )?{_PERMIT}\b"
    rf"|\b{_PERMIT}\s+(?:with|about)\s+{_CLOUD}\s+(?:seeing|having|getting|reading|processing|handling|using|accessing|storing|hosting|receiving)\b"
    rf"|\b(?:agreed|consented|signed off|said yes) (?:to|on)\s+(?:\w+\s+){{0,2}}?{_CLOUD}|\b{_CLOUD}\s+(?:\w+\s+){{0,3}}?(?:agreement|contract|dpa|terms|baa)\s+covers?\b"
    rf"|\b(?:cleared|approved|allowed|permitted)\s+(?:\w+\s+){{0,3}}?(?:for|to|with)\s+{_CLOUD}"
    r"|\b(?:can|may|could)\s+go\s+(?:anywhere|wherever|to any)\b|\bgo wherever\b|\bno (?:restrictions?|constraints?) on (?:where|the data)\b"
    # "legal cleared OpenAI as a processor", "OpenAI approved under our enterprise agreement", "we have a BAA with
    # OpenAI", "a data processing agreement with OpenAI is in place"
    rf"|(?<!\bonly )\b(?:cleared|approved|whitelisted|allow-?listed|vetted|signed off(?: on)?)\s+(?:the\s+|using\s+)?{_CLOUD}\b"
    rf"|(?<!\bno )\b{_CLOUD}\s+(?:(?!not\b|never\b)\w+\s+){{0,2}}?(?:approved|cleared|allowed|permitted|signed off)\s+(?:under|by|for|as|via)\b"
    rf"|\b(?:dpa|baa|data processing agreement|business associate agreement|zero[- ](?:data[- ])?retention (?:agreement|deal|terms)"
    rf"|enterprise agreement)\s+with\s+{_CLOUD}\b"
)
# "is not allowed to go to OpenAI", "legal has not approved sending", "never cleared": a permission taken back.
_NEGATED_BEFORE = re.compile(r"(?:\bnot|n't|\bnever|\bno longer|\bnobody|\bno one)\s+(?:\w+\s+)?(?:yet\s+)?$")
_NOT_SENSITIVE = re.compile(
    r"\b(?:not|isn'?t|aren'?t|nothing|no) (?:very |really |particularly |that )?(?:sensitive|confidential|private)\b"
)


_NOT_OK = re.compile(r"\b(?:not|isn'?t|aren'?t|never)\s+(?:\w+\s+)?(?:fine|ok|okay|allowed|an option)\b")


def privacy(clause: str, *, focus: bool = False) -> bool | None:
    """Return True when the data must stay in-house, False when it may go to OpenAI, None when the clause is not
    about where data may go (with `focus`, every clause is: it answers the privacy question).
    """
    about = focus or re.search(
        r"\b(data|openai|gpt|azure|anthropic|cloud|server|servers|third|vendor|api|privacy|private|infrastructure"
        r"|customer|patient|records|hosted|upload|send\w*|leave|leaving|share|compliance|external|vendors?|services?|providers?"
        r"|gpus?|hardware|premises|prem|everything|azure|infosec|security|legal|dpo)\b",
        clause,
    )
    if not about:
        return None
    if _NO_CONCERN.search(clause) or any(
        not _NEGATED_BEFORE.search(clause[max(0, m.start() - 30) : m.start()]) for m in _CLOUD_OK.finditer(clause)
    ):
        return False
    said = _PRIVATE_SAID.search(clause) or _PRIVATE_TOPIC.search(clause)
    if _NOT_OK.search(clause) or said and not _NOT_SENSITIVE.search(clause):
        return True
    if _OPENAI_OK.search(clause) or _NOT_SENSITIVE.search(clause):
        return False
    return None


def privacy_said(clause: str) -> bool:
    """Whether the clause says where the data may or may not go, not only what makes it sensitive: of the clauses
    that read the same privacy, this one is the quote (the word "patient" in "our patient portal" is not).
    """
    return any(p.search(clause) for p in (_PRIVATE_SAID, _NOT_OK, _CLOUD_OK, _NO_CONCERN))


# OpenAI's fine-tuning now takes jobs only from organisations that served a fine-tuned model in the last 60 days.
# Read as three cues in one clause: an OpenAI fine-tune is named ("ft:gpt-4o-mini:acme::x", "our fine-tuned
# gpt-4.1-mini", "a 4o-mini we fine-tuned on OpenAI's platform", "our OpenAI fine-tune"); it is in use or was until
# recently ("in prod", "live", "answers every email", "until last month", "six weeks ago"); or it never was, or
# ended long ago ("never", "no fine-tuning, ever", "fourteen months ago", "in 2022"). Chosen on the first half of a
# blind author's sentences (tests/data/authors/openai_customer_j.json), measured on the second (tests/test_openai_access).
_OAI_MODEL = r"(?:openai|oai|chatgpt|gpt[\w.-]*|4o(?:-mini)?|4\.1(?:-mini|-nano)?|o\d-mini|3\.5-turbo|davinci|babbage)"
_TUNED = r"(?:fine[- ]?tun\w*|ft(?:'?d)?|(?:dpo|rft|sft)[- ]tuned|reinforcement fine[- ]?tuned|trained|custom)"
_FT_OPENAI = re.compile(
    rf"\bft:{_OAI_MODEL}|\b{_TUNED}\b(?:\W+\w+){{0,6}}?\W+{_OAI_MODEL}\b|\b{_OAI_MODEL}\b(?:\W+\w+){{0,6}}?\W+{_TUNED}\b"
)
_IN_USE = re.compile(
    r"\b(?:prod(?:uction)?|live|serv(?:e|es|ed|ing)|in the app|customers?|users|handl\w+|answer\w*|rout\w+|call(?:s|ed|ing)?"
    r"|currently|right now|today|still|since|backed by|reli\w+|depend\w*|default model|ship\w*|deployed|deploys|runs|behind"
    r"|reads|grades|suggest\w*|traffic|endpoint|hotline|chat(?:ting)?)\b"
)
_RECENT = re.compile(
    r"\b(?:until|through|till)\b[^.;]*\blast month\b|\blast month\b|\b(?:a|one|two|three|four|five|six|seven|eight|\d)\s+weeks?\s+ago\b"
)
_DENIED = re.compile(
    r"\b(?:never|not\b|no\b|none\b|zero\b|nothing\b|only (?:ever )?used|exclusively|prompt[- ]only|stock|off[- ]the[- ]shelf"
    r"|unmodified|as they ship|base models? only|abandon\w*|dropped|decommissioned|retired|stopped|turned off|switched off)"
)
# A wish or a plan names a fine-tune that does not exist yet: "we want to fine-tune gpt-4.1-mini for our customers".
_WISH = re.compile(
    r"\b(?:want\w*|plan\w*|would like|hop(?:e|es|ing)|consider\w*|looking to|thinking|going to|intend\w*|should we|can we"
    r"|could we|how (?:do|to|can)|whether|to fine[- ]?tune)\b"
)
_LONG_AGO = re.compile(
    r"\b(?:(?:\d+|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|twenty|\w+ty)\s+months?|\w+\s+years?|a year"
    r"|over a year|more than a year)\s+ago\b|\bin 20(?:1\d|2[0-3])\b|\bback in 20\d\d\b|\bsince 20(?:1\d|2[0-3])\b|\b20(?:1\d|2[0-3])\b"
)


# Said to be in use now, which outweighs when it was trained ("two years ago we fine-tuned ..., and it is still
# running", "we've been serving a fine-tuned gpt-3.5 since 2023, no issues") and a "no" elsewhere in the clause ("its
# good, but the model has no idea the new fares exist"); unless it is said to have stopped.
_CURRENT = re.compile(
    r"\b(?:already (?:run|runs|have|has|use|uses|serve|serves|got)|still (?:running|runs|live|up|around|active|deployed|going|serving|in (?:production|prod|use|service)"
    r"|answer\w*|handl\w+|work\w*|us(?:e|ed|ing))|(?:is|are|it's|its|it is) (?:still )?(?:in (?:production|prod)|live)"
    r"|in production|in prod|runs on|been (?:serving|running|using)|(?:we're|we are|we) currently (?:run|serve|use)\w*)\b"
)
_STOPPED = re.compile(
    r"\b(?:never|no longer|not (?:\w+ )?(?:in|live|running|used)|retir\w+|stopped|turned off|switched off|decommission\w*"
    r"|abandon\w*|dropped|shut (?:it )?down)\b"
)


def openai_customer(clause: str, *, focus: bool = False) -> bool | None:
    """Return True when the clause says the organisation serves, or served in the last two months, a fine-tuned
    OpenAI model; False when it says it never did, or stopped long ago; None otherwise (with `focus`, a bare yes or no
    answers the question).
    """
    if _FT_OPENAI.search(clause):
        if _RECENT.search(clause):
            return True  # "until last month", "six weeks ago we switched it off": inside OpenAI's 60 days
        if _CURRENT.search(clause) and not _STOPPED.search(clause) and not _WISH.search(clause):
            return True
        if _DENIED.search(clause) or _LONG_AGO.search(clause):
            return False
        if _IN_USE.search(clause) and not _WISH.search(clause):
            return True
    if focus and re.search(r"^\W*(?:yes|yep|yeah|we do|we did|correct|sure)\b", clause):
        return True
    if focus and re.search(r"^\W*(?:no|nope|never|not|we don'?t|we haven'?t|we didn'?t)\b", clause):
        return False
    return None


# Step 5's "enterprise or complex, specialised domain" is read only where the writer says so: enterprise scale, or
# a domain called complex, specialised, highly technical or the like. A domain noun alone (legal, medical, a bank)
# does not make it complex: plenty of legal letters are routine, and the corpora are labelled that way.
COMPLEX = re.compile(
    r"(?<!not )(?<!n't )(?<!nothing )(?<!no )(?<!not that )(?<!not very )(?<!not particularly )"
    r"(?<!openai )(?<!chatgpt )(?<!azure )\b(?:enterprise(?!\s+(?:agreement|plan|tier|account|license|licence|contract|api|edition|version|subscription))"
    r"|enterprise[- ](?:scale|grade|wide)|fortune[- ]?(?:500|100)|large[- ]scale (?:deployment|rollout|organi[sz]ation|company)"
    r"|(?:multi|trans)national (?:company|corporation|group|bank|insurer)|complex(?:ity)?|complicated|intricate|esoteric|arcane"
    r"|speciali[sz]ed|specialist (?:domain|field|area|knowledge|subject)|(?:highly|very|deeply|extremely|heavily|super|quite|really) technical"
    r"|technical (?:domain|field|subject matter)|(?:niche|expert|hard|difficult|demanding) (?:[\w-]+ )?(?:domain|field|area|subject|knowledge)"
    r"|domain[- ](?:heavy|specific knowledge|expertise)|deep (?:domain|subject[- ]matter) (?:knowledge|expertise))\b"
)
# Best quality with a flexible budget: "the best possible assistant", "quality is priority #1, we'll pay for H100s",
# "budget flexible", "the absolute best quality".
BEST = re.compile(
    r"\b(best (?:possible |achievable )?(?:quality|results|model|output|accuracy|assistant|system|performance)|best (?:\w+ )?we can (?:get|build|buy)"
    r"|(?:the )?(?:absolute|very) best|best possible|regardless of (?:the )?(?:cost|price|budget)"
    r"|(?:budget|money|cost|price|spend)\s+(?:is\s+|are\s+)?(?:isn'?t|is not|not)\s+(?:really\s+)?(?:a |an |the |our )?(?:problem|issue|concern|constraint|object)"
    r"|(?:budget|money|cost) (?:is )?(?:flexible|no (?:object|issue|problem))|flexible budget|generous budget|big budget|deep pockets"
    r"|best results matter|quality (?:matters|is what matters|above all|first|over cost|over speed|is (?:the |our )?(?:top |#1 |number one |first |main )?priority)"
    r"|(?:top|#1|number one|first) priority is (?:the )?quality|money is no object|whatever it costs|we'?ll pay (?:for|whatever)|willing to pay|happy to pay|cost doesn'?t matter"
    r"|top quality|highest (?:possible )?(?:quality|accuracy)|state of the art|no matter (?:the|what it) cost\w*|cost is not a concern|spare no expense)\b"
)
# Iterating fast is a wish the team states ("quick experiments", "move fast", "speed of iteration matters"); its
# release pace ("we ship every Friday", "we deploy daily") is not, and neither is a startup or a deadline ("decisions
# published this week"). Issue 28: blind authors wrote the pace as background, never as a wish.
FAST = re.compile(
    r"\b(iterat\w+ (?:fast|quickly|rapidly|often|a lot)|fast iteration|quick(?:ly)? (?:iterations?|experiments?|turnaround|to iterate)"
    r"|experiment\w* (?:fast|quickly|a lot)|(?:move|moving|ship|shipping|release|releasing|launch\w*|go(?:ing)? live|deploy\w*) (?:fast|quick|quickly|this week|next week|soon|by \w+day|in (?:a |\w+ )(?:days?|weeks?))"
    r"|by (?:monday|tuesday|wednesday|thursday|friday|tomorrow|end of (?:the )?week)"
    r"|rapid\w* (?:iteration|prototyp\w+|experiment\w*)|asap|speed (?:matters|is key|of iteration)|time[- ]to[- ]market|no ops|no infra\w*"
    r"|don'?t want to (?:run|manage|host) (?:gpus|servers|infra\w*|anything)|want to (?:try|test) (?:things )?quickly|fast feedback)\b"
)


# ---- step 3: whether the examples are good ------------------------------------------------------------------

# What makes data that exists unable to teach the behaviour, each read only where the text says it. Reviewed or
# approved data is "good"; a count with no word on its quality stays unsaid (the count itself is read elsewhere).
# The heads (agent/interviewer/heads.py) weigh these readings against the sentence as a whole.
_QUALITY = (
    (
        "inputs_only",
        re.compile(
            r"\b(?:only|just) (?:the |our |have |kept |got )?(?:\w+ )?(?:questions|inputs|queries|prompts|requests|emails|tickets)\b"
            r"(?:,? (?:not|no|without|never) (?:the |our |any )?(?:answers|replies|responses|outputs|resolutions))"
            r"|\b(?:no|without|missing|never (?:kept|saved|logged|stored)) (?:the |our |any )?(?:answers|replies|responses|outputs|resolutions|labels|gold|targets)\b"
            r"|\binputs? only\b|\bnot (?:the |our )?(?:answers|replies|responses|outputs)\b"
            r"|\b(?:answers|replies|responses|outputs|resolutions) (?:were|was|are|is|have|has)(?: been)? (?:never|not) (?:stored|kept|saved|logged|recorded|captured|written)\b"
        ),
    ),
    (
        "generated_unfiltered",
        re.compile(
            r"\b(?:generated|synthetic|synthesi[sz]ed|written|produced|made) (?:[\w,.&/-]+ ){0,4}?(?:by|with|using) (?:gpt[\w.-]*|chatgpt|an? llm|claude|llama[\w.-]*|a model|the model|ai)\b"
            r"|\b(?:synthetic|llm[- ]generated|gpt[- ]generated|ai[- ]generated|model[- ]generated|machine[- ]generated)\b"
        ),
    ),
    (
        "low_agreement",
        re.compile(
            r"\bkappa\b|\b(?:inter|between)[- ]?(?:annotator|rater|labell?er)\b|\b(?:annotators?|labell?ers?|raters?|reviewers?|teams?|people|vendors?|graders?|experts?|analysts?|nurses?|doctors?|lawyers?) "
            r"(?:\w+ ){0,3}?(?:disagree|don'?t agree|do not agree|rarely agree|agree (?:on )?(?:only|barely|poorly|half|about|around|less|under|rarely|\d))"
            r"|\b(?:low|poor|weak) (?:\w+ )?agreement\b|\blabels? (?:are |is )?(?:noisy|inconsistent|contradictory|all over the place)\b"
        ),
    ),
    (
        "old_format",
        re.compile(
            r"\b(?:old|legacy|previous|outdated|deprecated|retired|former) (?:\w+ )?(?:format|template|schema|style|layout|structure)\b"
            r"|\b(?:moving|migrating|switching) (?:away )?from\b|\babandon\w*\b|\bphas(?:e|ed|ing) out\b|\bno longer use\b"
        ),
    ),
    (
        "unreviewed",
        re.compile(
            r"\b(?:unreviewed|unvetted|unchecked|unverified|unlabell?ed|uncurated|unfiltered|unedited|uncleaned|raw)\b"
            r"|\b(?:not|never|nobody|no one|none)(?:'s| has| have| was| were| been)* (?:\w+ ){0,2}?(?:reviewed|checked|vetted|verified|cleaned|curated|filtered|proofread|validated|looked at)\b"
            r"|\berror rate\b|\b\d+\s?%\s+(?:of (?:them|those) )?(?:are |is |have )?(?:wrong|errors?|mistakes?|incorrect|garbage|junk|bad)\b"
            r"|\b(?:full of|lots of|many|riddled with) (?:errors|mistakes|typos|noise)\b|\b(?:noisy|messy|dirty)\b"
        ),
    ),
)
_GOOD_DATA = re.compile(
    r"\b(?:reviewed|approved|vetted|curated|verified|hand[- ](?:written|checked|labell?ed|picked|curated)|gold|signed off"
    r"|checked|clean|validated|proofread|audited|annotated by (?:experts|our)|expert[- ]written)\b"
)


# How far the people who labelled the data agree, said as a figure or a share: "kappa 0.41", "Krippendorff's alpha of
# about 0.47", "agreed on only about 60% of them", "agree like 55% of the time", "~55% agreement", "disagree on about
# a third", "agreed less than half the time". A figure reads both ways: "kappa 0.86" and "94% agreement" are labels
# people can trust, where the word "kappa" alone used to read as low agreement whatever its value.
_COEFFICIENT = re.compile(
    r"\b(?:kappa|krippendorff'?s?(?: alpha)?|alpha)\b(?:\s*\(?[a-z'’]*\)?)*?[^.;\d]{0,30}?(?P<k>0?\.\d+|[01],\d+)(?!\s*%)"
)
_AGREE = r"\bagree(?:d|s|ment|ing)?\b"
_SHARE_WORDS = r"(?:about |around |roughly |only |just |maybe |like |~|approx\.? |barely |on |in |with each other )*"
_AGREED_SHARE = re.compile(
    rf"{_AGREE}(?:\s+[^\s.;%]+){{0,6}}?\s+{_SHARE_WORDS}(?P<p>\d{{1,3}}(?:\.\d)?)\s?%"
    # "91% agreement with human reviewers" is a model's score against people; "94% agreement between annotators" not
    rf"|(?P<q>\d{{1,3}})\s?% (?:inter-\w+ |pairwise |raw )?agreement(?! with (?!each other))"
    rf"|{_AGREE}(?:\s+[^\s.;%]+){{0,6}}?\s+(?P<low>(?:less than|under|fewer than|not even) (?:half|two-thirds|two thirds)"
    r"|(?:about |roughly |only |maybe )*half)\b"
)
_DISAGREE_SHARE = re.compile(
    r"\b(?:disagree\w*|differ\w*|split)\b(?:\s+[^\s.;%]+){0,7}?\s+(?:on |about |roughly |around |like |~|in )*"
    r"(?:a third|a quarter|half|(?:[2-9]\d|1\d)\s?%)"
)
_LABELLERS = re.compile(
    r"\b(?:annotat\w+|label\w*|tagg\w+|coders?|coded|raters?|rated|graders?|double[- ]\w+|re-?label\w*|calibration"
    r"|inter-\w+|pairwise|each other|two (?:of us|\w+s)|three \w+s|reviewers|markers|audit\w*|spot[- ]check\w*)\b"
)


# An agreement that is a contract, or agreeing to terms: "the enterprise agreement gives us 20% off", "the vendor
# agreed to a 15% discount".
_NOT_LABELS = re.compile(
    r"\b(?:enterprise|licen[cs]e|services?|processing|framework|master|union|collective|purchase|supply|sales|loan"
    r"|non-disclosure|settlement|partnership|subscription|pricing|volume|dpa|legal) agreements?\b"
    r"|\bagreed? to (?:a |an |the |our )?(?:\d|discount|price|fee|cut|rate|cap|budget|terms)"
    r"|\b(?:discount|off (?:the |our )?(?:price|list)|fees?|rebate|budget|revenue|margin)\b"
)


def agreement(clause: str) -> str | None:
    """Return "low_agreement" or "good" when the clause gives how far the data's labellers agree, else None.

    A prompt's agreement with people is its score, not the data's ("the prompt agrees with planners 55%", "91%
    agreement with human reviewers"), so a clause about a prompt is left to the other readings.
    """
    if PROMPT_WORDS.search(clause) or _NOT_LABELS.search(clause):
        return None
    m = _COEFFICIENT.search(clause)
    if m and (not m.group(0).startswith("alpha") or _LABELLERS.search(clause)):  # not "alpha, v0.3"
        return "good" if float(m.group("k").replace(",", ".")) >= 0.7 else "low_agreement"
    m = _AGREED_SHARE.search(clause)
    if m:
        share = m.group("p") or m.group("q")
        return "low_agreement" if share is None or float(share) < 80 else "good"
    return "low_agreement" if _DISAGREE_SHARE.search(clause) and _LABELLERS.search(clause) else None


def data_quality(clause: str) -> str | None:
    """Return what the clause says of the examples' quality ("unreviewed", "low_agreement", ...; "good" for
    reviewed or approved data), or None when it says nothing of it.
    """
    said = agreement(clause)
    if said is not None:
        return said
    for value, pattern in _QUALITY:
        if pattern.search(clause):
            if (
                value == "generated_unfiltered"
                and re.search(r"\b(?:filtered|reviewed|checked|vetted|curated|cleaned)\b", clause)
                and not re.search(
                    r"\b(?:not|never|nobody|no one|un)\w*\s+(?:\w+ )?(?:filtered|reviewed|checked)", clause
                )
            ):
                return "good"  # generated, then filtered or reviewed by people: good data
            return value
    return (
        "good"
        if _GOOD_DATA.search(clause) and not re.search(r"\bnot (?:\w+ )?(?:reviewed|checked|approved)\b", clause)
        else None
    )
