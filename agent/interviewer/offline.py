"""The offline interviewer: reads the framework's answers out of plain text, with no LLM and no network.

Two passes. Rules (agent/interviewer/rules.py) catch numbers and the usual phrasings with their negations; they
are precise, so what they find is `stated`. For the answers the rules leave open, each clause is compared with
labelled example sentences (examples.json) using the local MiniLM embedder; a clear match is `inferred`. The
embedder is loaded only when the rules leave a fact open, so most replies are read without it.

An answer is read in the context of its question (`focus`): a count in the reply to the prompting question counts
few-shot examples, not training data, and a reply about stability or privacy says nothing about knowledge versus
behaviour. Every finding carries a confidence (0..1): rules high, a similarity match from its margin, a guess
from indirect evidence low, and two readings that disagree lower still, so the interview can ask instead.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Callable, Protocol

from agent.interviewer import rules


class Add(Protocol):
    """How the passes record a finding: fact, value, the words, how it was read and how sure."""

    def __call__(
        self,
        fact: str,
        value: Any,
        evidence: str,
        how: str = ...,
        rank: tuple[Any, ...] | None = ...,
        confidence: float | None = ...,
    ) -> None:
        """Record one finding."""


# Similarity thresholds, tuned on tests/test_offline_extractor.py's texts: MiniLM puts paraphrases at 0.5-0.8 and
# unrelated sentences under 0.3, but negations score high too, hence the margins over the other labels.
# (least similarity, least margin over the best competing label of the same question); every label must also beat
# the closest small-talk sentence by MIN_OVER_NEUTRAL. Knowledge vs behaviour is a topic, which MiniLM separates
# well, so it may match lower; the others hinge on polarity (may / must not), which it separates badly.
THRESHOLDS = {"problem": (0.42, 0.10), "prompting": (0.52, 0.06), "stable": (0.52, 0.06), "private": (0.52, 0.06)}
MIN_OVER_NEUTRAL = 0.05
# A clause is compared for a question only when it mentions that question's subject: MiniLM rates "it still
# drifts from the format" close to "the format has not changed" on topic alone, polarity aside.
GATES = {
    "prompting": re.compile(
        r"\b(prompt\w*|instruct\w*|examples?|tri(?:ed|y)|tweak\w*|word\w*|default|box|settings"
        r"|experiment\w*|shot|exhausted|fine-tun\w*)\b"
    ),
    "stable": re.compile(
        r"\b(chang\w*|same|stay\w*|evolv\w*|fixed|settled|rework\w*|redo\w*|redone|revis\w*|replac\w*"
        r"|rewrit\w*|shift\w*|minds?|years?|months?|weeks?|quarter|season|soon|decid\w*|final\w*|rules"
        r"|requirements?|launch\w*|summer|different|working out|figuring)\b"
    ),
    "private": re.compile(
        r"\b(data|records?|shar\w+|send\w*|sent|cloud|vendors?|servers?|network|hardware|building"
        r"|confidential\w*|secur\w+|legal|restrict\w*|providers?|external|third|premises|host\w*|openai"
        r"|leave|permitted|allowed|approved|comfortable|sensitive|health|patient|customers?|compan\w+)\b"
    ),
    "problem": re.compile(r"."),
}


@dataclass(frozen=True)
class Finding:
    """One answer read from the text: which fact, its value, the sentence it came from, and how it was read."""

    fact: str
    value: Any
    evidence: str
    how: str  # "stated" (a rule matched what was said) or "inferred" (similarity, or derived from other facts)
    confidence: float = 1.0  # 0..1: how sure the reading is; low when the evidence is weak or readings conflict


def measured_by_words(text: str, found: dict[str, Finding]) -> dict[str, Finding]:
    """Read step 1 from a reached score and a needed one when the text gives both (agent/interviewer/scores.py):
    "gets 82% right and we need 97%" fell short by 15 points, whatever the 80% rule of thumb says of 82%. The
    numbers outrank any reading of the words, and the evidence says them.
    """
    from agent.interviewer.scores import compare

    said = compare(text)
    if said is None:
        return found
    if not said.short_by:
        how = f"at or above the {said.needed:.0%} needed"
    else:
        share = f"{said.errors_to_fix:.0%} of its errors to fix"
        close = ", close enough for a better prompt" if said.verdict == "good_enough" else ""
        how = f"{said.short_by:g} points short of the {said.needed:.0%} needed: {share}{close}"
    # the comparison first: the confirm list and the five-step table show an evidence's first 90 characters
    evidence = f"reached {said.reached:.0%}, {how}. From: {said.evidence}"
    return {**found, "prompting": Finding("prompting", said.verdict, evidence, "stated", STATED)}


# Confidence by how a fact was read. A rule on the reply to the fact's own question is as sure as reading gets; a
# rule on a goal text may still meet a phrasing it does not know; a guess from indirect evidence ("we tried a
# prompt" -> it fell short) is a coin with a bias; two readings that disagree are worth asking about.
SURE, STATED, INDIRECT, CONFLICT = 1.0, 0.9, 0.6, 0.4
# A similarity match never counts as a rule does: on the goal corpus (benchmarks/interview_accuracy.py) its wrong
# matches had margins as wide as its right ones, so even a clear margin stays below ASK_BELOW.
SIMILAR_MIN, SIMILAR_MAX = 0.5, 0.75
ASK_BELOW = 0.8  # a finding under this is worth confirming when its value could change the recommendation


def similarity_confidence(margin: float, min_margin: float) -> float:
    """Return a similarity match's confidence: a clear margin over the runner-up label is a surer match than one
    at the threshold, within the band (SIMILAR_MIN to SIMILAR_MAX).
    """
    return round(min(SIMILAR_MAX, SIMILAR_MIN + 2.5 * max(0.0, margin - min_margin)), 2)


# Markdown a chat assistant's summary brings when it is pasted in ("**Data:**", "- 600 approved NCRs paired with the
# notes", "## Goal"): layout, not words, and the heads never met it in training (9 of 3,050 corpus goals have any).
# With it, the reader lost 16 of the 22 counts of good examples in the AV-assistant author's goals (the rules read
# "600 approved NCRs" and the heads let it go); without it, it read all 22. (Not "__": it is in identifiers.)
_MARKUP = re.compile(r"\*\*|^[ \t]*(?:#{1,6}|[-*•])[ \t]+", re.M)


def plain(text: str) -> str:
    """Return `text` without markdown's bold marks, heading hashes and line-start bullets."""
    return _MARKUP.sub("", text)


def sentences(text: str) -> list[str]:
    """Split on sentence ends, semicolons and line breaks, keeping the original wording for evidence."""
    parts = re.split(r"(?<=[.!?])\s+|;\s*|\n+|(?<=:)\s+(?=[A-Z])", text.strip())
    return [p.strip(" -*•\t") for p in parts if p and p.strip(" -*•\t.")]


def clauses(sentence: str) -> list[str]:
    """Split `sentence` into its clauses (rules.clauses)."""
    return rules.clauses(sentence)


VECTOR_CACHE = 2048  # texts whose vectors a reader keeps (OfflineInterviewer._embed): a few hundred goals' worth
QUOTE_MAX = 90  # the confirm list quotes this much of a finding's evidence (agent/commands/plan_view.py)


class _Quotes:
    """Records, per reading (fact, value, how it was read), the first run of clauses that gives it on its own."""

    def __init__(self) -> None:
        self.said: dict[tuple[str, str, str], str] = {}
        self.ranks: dict[tuple[str, str, str], tuple] = {}
        self.words = ""

    def __call__(
        self,
        fact: str,
        value: Any,
        evidence: str,
        how: str = "stated",
        rank: tuple | None = None,
        confidence: float | None = None,
    ) -> None:
        key = (fact, repr(value), how)
        if key not in self.said or rank is not None and rank > self.ranks.get(key, rank):
            self.said[key] = self.words  # the first run that says it, or a later one that says it more specifically
            if rank is not None:
                self.ranks[key] = rank


def _quoting(sentence: str, read: Callable[[str, str, Add], None], add: Add) -> Add:
    """Return `add` with the evidence of a sentence too long to quote whole (a run-on goal, dictated with no full
    stops) narrowed to the shortest run of up to three clauses that gives the same reading on its own, so the confirm
    list quotes the words that said it rather than the goal's opening. A reading only the whole sentence gives keeps
    the sentence; the readings themselves still come from the whole sentence.
    """
    if len(sentence) <= QUOTE_MAX:
        return add
    quotes = _Quotes()
    spans = rules.clause_spans(sentence)
    for width in (1, 2, 3):
        for i in range(len(spans) - width + 1):
            quotes.words = sentence[spans[i][0] : spans[i + width - 1][1]].strip()
            read(quotes.words, _normalise(quotes.words), quotes)

    def narrowed(fact: str, value: Any, evidence: str, how: str = "stated", *args: Any, **kwargs: Any) -> None:
        add(fact, value, quotes.said.get((fact, repr(value), how), evidence), how, *args, **kwargs)

    return narrowed


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').replace("–", "-")
    return re.sub(r"\bin terms of\b", "regarding", text.lower())


_YES = re.compile(
    r"^\W*(yes|yeah|yep|yup|sure|correct|right|it can|it may|they can|absolutely|of course|definitely|ok|okay|fine)\b"
)
_NO = re.compile(r"^\W*(no|nope|nah|not really|not yet|never|it can'?t|it cannot|negative|none)\b")


class OfflineInterviewer:
    """Deterministic extraction; the embedder is loaded on first use and shared."""

    name = "offline"
    endpoint = None  # reads on this machine: nothing is sent anywhere

    def __init__(
        self,
        embedder: Any | None = None,
        *,
        rules_only: bool = False,
        heads: Any = True,
        problem_model: Any = True,
        role_model: Any = True,
    ) -> None:
        """`rules_only` skips the similarity pass and the heads and never loads the embedder: a lighter reader for a
        first question that must appear before MiniLM has loaded. `heads`: True reads a goal with the shipped
        heads (agent/interviewer/heads.py), loaded on first use; a `Heads` reads with those; None without any
        (the rules' own reading, which the heads are trained on). `problem_model`: True reads step 2 with the
        shipped fine-tuned model too (agent/interviewer/problem_model.py) where heads read; a `ProblemModel` with
        that one; None with the step-2 head alone. `role_model` likewise for which number counts the examples
        (agent/interviewer/role_model.py): True the shipped one, a `RoleModel` that one, None the role head alone.
        """
        self._embedder = embedder
        self.rules_only = rules_only
        self._bank: dict[str, dict[str, Any]] | None = None
        self._heads = heads
        self._problem_model = problem_model
        self._role_model = role_model
        self._vectors: dict[str, Any] = {}  # text -> its vector (see _embed)

    def caveat(self, text: str) -> str | None:
        """Say so when the goal is mostly in a language other than English, which these rules and MiniLM read: its
        readings are then all inferred (heads.revise), and the confirm list says why.
        """
        from agent.interviewer.language import mostly_english

        if mostly_english(text):
            return None
        return (
            "Much of your goal is not in English, and this offline reader reads English: what it read from the goal "
            "is a guess, so check it. A chat model reads other languages: set TUNEWISE_LLM_MODEL (an endpoint of "
            "your own if the data must stay in-house)."
        )

    # -- the two passes ---------------------------------------------------------------------------------------
    def extract(self, text: str, *, focus: str | None = None) -> list[Finding]:
        """Every fact found in `text`; `focus` names the fact a question asked for, so short replies count."""
        text = plain(text)
        found: dict[str, Finding] = {}
        ranks: dict[str, tuple] = {}  # the example count kept is the most specific mention, not the first

        def add(
            fact: str,
            value: Any,
            evidence: str,
            how: str = "stated",
            rank: tuple | None = None,
            confidence: float | None = None,
        ) -> None:
            sure = (
                confidence
                if confidence is not None
                else (SURE if fact == focus and how == "stated" else STATED if how == "stated" else INDIRECT)
            )
            old = found.get(fact)
            if old is None or (old.how == "inferred" and how == "stated"):
                found[fact] = Finding(fact, value, evidence, how, sure)
            elif rank is not None and old.how == how and rank > ranks.get(fact, rank):
                # A more specific count replaces a less specific one; two equally specific counts ("2,000 ... 3,000
                # reviewed answers") are a conflict the person should settle.
                tie = old.value != value and ranks[fact][:-1] == rank[:-1]
                found[fact] = Finding(fact, value, evidence, how, min(sure, CONFLICT) if tie else sure)
            elif (
                old.how == how
                and old.value != value
                and not (rank is not None and ranks.get(fact, rank)[:-1] > rank[:-1])
            ):
                found[fact] = replace(old, confidence=min(old.confidence, CONFLICT))
            else:
                return
            if rank is not None and found[fact].value == value:
                ranks[fact] = rank

        if focus:
            self._focused(text, focus, add)
        topic, style_ok, fresh = None, None, set()
        after_prompt = False  # the previous sentence spoke of a prompt, so "It works, but ..." judges it
        label = None  # ... and was only a label ("Prompting:"), so the next one is what it says of the prompt
        long_prompt = None  # the previous sentence said the prompt is long, so "Each request is slow" makes it costly
        for sentence in sentences(text):
            low = _normalise(sentence)
            self._rules(sentence, low, _quoting(sentence, self._rules, add))
            if long_prompt and "prompt_large" not in found and rules.costly(low):
                add("prompt_large", True, f"{long_prompt} {sentence}")
            long_prompt = sentence if rules.prompt_size(low) == "long" else None
            if after_prompt and not rules.PROMPT_WORDS.search(low):
                # "Prompting GPT-4o: CDR boundary accuracy 61%" is split at its colon: the label names the prompt and
                # whatever follows is its verdict, whatever word it starts with
                verdict = rules.prompting(low, focus=True) if label else rules.prompting_follow_up(low)
                if verdict:
                    add("prompting", verdict, f"{label} {sentence}" if label else sentence)
            after_prompt = bool(rules.PROMPT_WORDS.search(low))
            label = sentence if after_prompt and low.rstrip().endswith(":") else None
            if style_ok is None and rules.style_ruled_out(low):
                style_ok = sentence
            for clause in clauses(low):
                here = rules.topic(clause)
                topic = here or topic
                steady = rules.stability(clause)
                if steady is None:
                    continue
                if topic == "knowledge":  # "our pricing, which changes every week" is volatile knowledge, not behaviour
                    fresh.add(sentence)  # ... so the similarity pass must not read it as unstable behaviour either
                    if not steady:
                        add("knowledge", True, sentence)
                else:
                    add("stable", steady, sentence)
        self._in_context(text, focus, found)
        cues = [found[c] for c in ("behaviour", "knowledge") if c in found]
        if focus == "problem" and "problem" not in found and cues:  # "it has to know our current stock" answers it
            value = "both" if len(cues) == 2 else cues[0].fact
            add(
                "problem",
                value,
                " / ".join(dict.fromkeys(c.evidence for c in cues)),
                cues[0].how,
                confidence=min(c.confidence for c in cues),
            )
        if not self.rules_only and (focus is None or focus == "problem" or focus not in found):
            self._similar(text, found, add, style_ok=style_ok is not None, fresh=fresh, focus=focus)
        if style_ok and not {"behaviour", "knowledge", "problem"} & found.keys() and focus in (None, "problem"):
            add("knowledge", True, style_ok, "inferred")  # "the tone is fine" rules out the behaviour half
        # step 1 read from the numbers, once: the heads see it (train_heads.prepare reads with it in), and it
        # outranks whatever the heads then make of step 1
        numbers = measured_by_words(text, {}) if focus in (None, "prompting") else {}
        found = {**found, **numbers}
        trained = self._trained() if focus is None and not self.rules_only else None
        if trained is not None:  # a goal text, read whole: the heads decide (a reply to a question is the rules')
            found = {**self._revise(text, found, trained), **numbers}
        # Two readings of one fact that disagree ("2,000 emails ... 3,000 reviewed answers") leave the reader choosing
        # between them: the text says both, not which one counts, so the choice is inferred (and asked about), never
        # shown as stated. Done last, so the heads still see the rules' own reading as they were trained on it.
        return [
            replace(f, how="inferred") if f.how == "stated" and f.confidence <= CONFLICT else f for f in found.values()
        ]

    def _trained(self) -> Any:
        """Return the heads this reader revises a goal's reading with, loading the shipped ones on first use."""
        if self._heads is True:
            from agent.interviewer import heads

            if heads.shipped() and "shipped" not in _HEADS:  # not setdefault: its argument would load every time
                _HEADS["shipped"] = heads.Heads.load()
            self._heads = _HEADS.get("shipped") if heads.shipped() else None
        return self._heads or None

    def _revise(self, text: str, found: dict[str, Finding], trained: Any) -> dict[str, Finding]:
        from agent.interviewer import heads

        said, numbers = self.goal_parts(text)
        if numbers[0].shape[1] != heads.DIM:
            return found  # an embedder other than MiniLM (a test's fake): the heads were trained on MiniLM's vectors
        return heads.revise(
            text,
            found,
            trained,
            said,
            *numbers,
            make=lambda fact, value, evidence, how, confidence: Finding(fact, value, evidence, how, confidence),
            bank=self.load_bank(),
            problem=self._step_2(text),
            roles=self._roles(text, numbers[1]),
        )

    def _step_2(self, text: str) -> dict[str, float] | None:
        """Return the fine-tuned model's reading of step 2, loading the shipped model on first use (None without)."""
        if self._problem_model is True:
            from agent.interviewer import problem_model

            if problem_model.shipped() and "problem_model" not in _HEADS:  # a second of loading: once per process
                _HEADS["problem_model"] = problem_model.ProblemModel.load(problem_model.base_folder())
            self._problem_model = _HEADS.get("problem_model") if problem_model.shipped() else None
        return self._problem_model.probabilities(text) if self._problem_model else None

    def _roles(self, text: str, numbers: list[Any]) -> list[float | None] | None:
        """Return the role model's reading of each number (None without the model, or with no numbers to read)."""
        if self._role_model is True:
            from agent.interviewer import problem_model, role_model

            if role_model.shipped() and "role_model" not in _HEADS:  # loaded once per process, like the others
                _HEADS["role_model"] = role_model.RoleModel.load(problem_model.base_folder())
            self._role_model = _HEADS.get("role_model") if role_model.shipped() else None
        if not self._role_model or not numbers:
            return None
        return list(self._role_model.roles(text, [(n.start, n.end) for n in numbers]))

    def goal_parts(self, text: str) -> tuple[list[str], tuple[Any, Any, Any]]:
        """Return a goal's sentences, and (their vectors, its numbers, their windows' vectors), in one batch."""
        import numpy as np

        from agent.interviewer import heads

        text = plain(text)  # as extract reads it: the numbers' places are in the text the heads are given
        said = sentences(text)
        numbers = heads.numbers_in(text)
        texts = said + [n.window for n in numbers]
        vectors = np.asarray(self._embed(texts), dtype=np.float32) if texts else np.zeros((0, heads.DIM), np.float32)
        return said, (vectors[: len(said)], numbers, vectors[len(said) :])

    @staticmethod
    def _in_context(text: str, focus: str | None, found: dict[str, Finding]) -> None:
        """Drop what the question's context says a reply did not mean. A count in the answer to "have you tried a
        prompt with 3-5 examples?" counts few-shot examples unless the person says they hold them as data; a reply
        about stability, data, privacy or prompting is not a statement of knowledge versus behaviour ("it changes
        every season" is about the behaviour's stability, not a knowledge gap).
        """
        if focus is None:
            return
        if (
            focus == "prompting"
            and "examples" in found
            and not re.search(
                r"\b(?:have|has|had|'ve|got|collected|labell?ed|annotated|dataset|training data)\b", _normalise(text)
            )
        ):
            del found["examples"]
        if focus != "problem":
            for cue in ("behaviour", "knowledge"):
                found.pop(cue, None)

    def _rules(self, sentence: str, low: str, add: Add) -> None:
        for fact, value in rules.counts(low).items():
            if fact != "examples":
                add(fact, value, sentence)
        count = rules.best_examples(low)
        if count is not None:
            # "2,000 emails and 3,000 tickets": two equally specific counts in one sentence; keep the larger, ask.
            tie = any(
                x.kind == "examples" and x.value != count.value and x.rank[:-1] == count.rank[:-1]
                for x in rules.mentions(low)
            )
            add("examples", count.value, sentence, rank=count.rank, confidence=CONFLICT if tie else None)
        verdict = rules.prompting(low)
        large = rules.prompt_large(low)  # read once: it decides both the step-1 verdict below and its own finding
        if verdict:
            add("prompting", verdict, sentence)
        elif rules.prompt_tried(low) and not large:
            # Someone who tried a prompt and is now weighing fine-tuning found that it fell short; one who only says
            # the prompt is large and costly has given no verdict on its quality.
            add("prompting", "fell_short", sentence, "inferred")
        if large:
            add("prompt_large", True, sentence)
        if rules.behaviour(low):
            add("behaviour", True, sentence)
        if rules.knowledge(low):
            add("knowledge", True, sentence)
        private = rules.privacy(low)
        if private is not None:
            # A clause that says where the data may go outranks one that only names what is sensitive, as the quote.
            add("private", private, sentence, rank=(rules.privacy_said(low), 0))
        quality = rules.data_quality(low)
        if quality is not None and (quality != "good" or count is not None):  # "clean" alone may be a format
            add("data_quality", quality, sentence)
        customer = rules.openai_customer(low)
        if customer is not None:
            add("openai_customer", customer, sentence)
        for fact, pattern in (
            ("complex_domain", rules.COMPLEX),
            ("best_quality", rules.BEST),
            ("fast_iteration", rules.FAST),
        ):
            if pattern.search(low):
                add(fact, True, sentence)

    def _focused(self, text: str, focus: str, add: Add) -> None:
        """Short answers to a question: 'no', '300', 'both', 'it may'."""
        low = _normalise(text.strip())
        evidence = text.strip()
        yes, no = bool(_YES.search(low)), bool(_NO.search(low))
        if focus == "prompting":
            verdict = rules.prompting(low, focus=True)
            if verdict:
                add("prompting", verdict, evidence)
            elif no:
                add("prompting", "not_tried", evidence)
            elif yes or rules.prompt_tried(low) or re.search(r"\b(tried|did|have)\b", low):
                add("prompting", "fell_short", evidence)
            elif re.search(r"\b(gave|used|added|put|tested|wrote|done|played|shot)\b", low):
                add("prompting", "fell_short", evidence, confidence=INDIRECT)  # said what was done, not how far it got
        elif focus == "problem":
            word = rules.problem_word(low)
            if word:
                add("problem", word, evidence)
        elif focus == "examples":
            stated = rules.counts(low).get("examples")
            if stated is None and any(x.kind == "raw" for x in rules.mentions(low)):
                stated = 0  # "none labelled yet, just the raw inbox (~90k emails)": material, not examples
            if stated is None:
                values = rules.numbers(low)
                stated = max(values) if values else 0 if no or re.search(r"\b(zero|nothing|none)\b", low) else None
            if stated is not None:
                add("examples", stated, evidence)
        elif focus == "stable":
            steady = rules.stability(low)
            if steady is None and (yes or no):
                steady = yes and not no
            if steady is not None:
                add("stable", steady, evidence)
        elif focus == "private":
            private = rules.privacy(low, focus=True)
            if private is None and re.search(r"\bopenai\b|\bhosted\b|\bcloud\b", low) and not no:
                private = False
            if private is None and (yes or no):
                private = no and not yes  # the question asks whether the data MAY go to OpenAI
            if private is not None:
                add("private", private, evidence)
        elif focus == "openai_customer":
            customer = rules.openai_customer(low, focus=True)
            if customer is not None:
                add("openai_customer", customer, evidence)

    # -- similarity ---------------------------------------------------------------------------------------------
    def _similar(
        self,
        text: str,
        found: dict[str, Finding],
        add: Add,
        *,
        style_ok: bool = False,
        fresh: frozenset[str] | set[str] = frozenset(),
        focus: str | None = None,
    ) -> None:
        wanted = [g for g in ("prompting", "stable", "private") if g not in found and focus in (None, g)]
        if (
            "behaviour" not in found
            and "knowledge" not in found
            and "problem" not in found
            and focus in (None, "problem")
        ):
            wanted.append("problem")
        pieces = [(s, c) for s in sentences(text) for c in {s, *clauses(s)} if len(c.split()) >= 3]
        if not wanted or not pieces:
            return
        bank = self.load_bank()
        vectors = self._embed([c for _, c in pieces])
        neutral = (vectors @ bank["neutral"].T).max(axis=1)
        for group in wanted:
            min_similarity, min_margin = THRESHOLDS[group]
            labels = bank[group]
            scores = {label: (vectors @ vecs.T).max(axis=1) for label, vecs in labels.items()}
            best: dict[str, tuple[float, str, float]] = {}
            for i, (sentence, piece) in enumerate(pieces):
                if not GATES[group].search(_normalise(piece)) or group == "stable" and sentence in fresh:
                    continue
                if group == "problem" and rules.ruled_out(_normalise(piece)):
                    continue  # "the tone is fine" is close to the behaviour sentences on topic alone
                ranked = sorted(((float(s[i]), label) for label, s in scores.items()), reverse=True)
                top, label = ranked[0]
                runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
                if top >= min_similarity and top - runner_up >= min_margin and top - neutral[i] >= MIN_OVER_NEUTRAL:
                    if label not in best or top > best[label][0]:
                        best[label] = (top, sentence, similarity_confidence(top - runner_up, min_margin))
            if group == "problem" and style_ok:
                best.pop("behaviour", None)  # style was ruled out in so many words; only a stated cue overrides that
            self._accept(group, best, add)

    @staticmethod
    def _accept(group: str, best: dict[str, tuple[float, str, float]], add: Add) -> None:
        if group == "problem":
            for label, (_, sentence, sure) in best.items():
                add(label, True, sentence, "inferred", confidence=sure)  # each clause may carry one half of "both"
            return
        if not best:
            return
        label, (_, sentence, sure) = max(best.items(), key=lambda item: item[1][0])
        if len(best) > 1:
            sure = min(sure, CONFLICT)  # clauses matched different labels: "it works ... it still drifts"
        value: Any = {"true": True, "false": False}.get(label, label)
        if group == "private" and value is False:
            # Letting data go out is read from words only: MiniLM tells "internal data only" from "fine to send"
            # by topic, not polarity (the first blind set had it read as may-go), and a wrong "may go" sends data
            # out while a wrong "stays in" only costs a question. Unread, privacy keeps its safe default and is asked.
            return
        add(group, value, sentence, "inferred", confidence=sure)

    def _model(self) -> Any:
        """Return the embedder this reader compares with, loading the local MiniLM on first use when none was given."""
        if self._embedder is None:
            from tools.rag.embedders import get_embedder

            self._embedder = get_embedder("local")
        return self._embedder

    def _embed(self, texts: list[str]) -> Any:
        """Embed `texts`, reusing the vectors of texts this reader embedded lately: a goal's sentences are embedded
        for the similarity pass and again for the heads (goal_parts), and MiniLM on a CPU is most of a reading's time.
        """
        import numpy as np

        if not texts:
            return self._model().embed([])
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = dict(zip(missing, self._model().embed(missing))) if missing else {}
        out = np.stack([fresh[t] if t in fresh else self._vectors[t] for t in texts])
        self._vectors.update(fresh)
        while len(self._vectors) > VECTOR_CACHE:  # oldest first: a long session reads many goals
            del self._vectors[next(iter(self._vectors))]
        return out

    def load_bank(self) -> dict[str, Any]:
        """Return the labelled sentences' vectors (examples.json), embedded once per embedder."""
        if self._bank is None:
            model = self._model()
            bank = _BANKS.get(model)
            if bank is None:
                raw = json.loads(resources.files("agent.interviewer").joinpath("examples.json").read_text("utf-8"))
                entries = [
                    (group, label, text)
                    for group, labels in raw.items()
                    if not group.startswith("_")
                    for label, texts in ({"": labels} if isinstance(labels, list) else labels).items()
                    for text in texts
                ]
                vectors = self._embed([text for _, _, text in entries])  # one batch: far faster than one per label
                bank = {}
                for group, label in dict.fromkeys((g, lab) for g, lab, _ in entries):
                    rows = [i for i, (g, lab, _) in enumerate(entries) if (g, lab) == (group, label)]
                    if label:
                        bank.setdefault(group, {})[label] = vectors[rows]
                    else:
                        bank[group] = vectors[rows]
                _BANKS[model] = bank
            self._bank = bank
        return self._bank


# The labelled sentences' vectors, per embedder object: computed once, shared by every interviewer that reads with
# that embedder. Keyed weakly by the object itself, not its id(): an id is reused once its embedder is collected,
# which handed a new embedder the old one's vectors; a weak key goes when its embedder does.
_BANKS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_HEADS: dict[str, Any] = {}  # the shipped heads, step-2 model and role model, read once per process
