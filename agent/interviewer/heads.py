"""Learned heads: small classifiers that give each goal-level fact, and each number, its final reading.

The rules (rules.py, numbers.py) were written from a few authors' phrasings, and new authors broke them: a count
of users taken as training examples, unreviewed transcripts taken as good data, a spec's vocabulary taken as a
knowledge gap. A head sees what the rules read (as features), the MiniLM vectors of the text's sentences and the
words it uses (a tf-idf lexicon of words and word pairs, fitted on the training goals), and it was trained on goals
written blind by many authors (agent/interviewer/train_heads.py, which also measures it leaving each author out).
So a rule's reading survives where, across authors, it was right, and is overruled where its phrasing fooled it.

Two kinds of head, each a softmax over standardised features (numpy only at run time; the weights are
heads.npz, about 1 MB with its lexicon, loaded on first use like MiniLM):
- a fact head per goal-level fact (prompting, problem, data quality, stability, privacy), with a class "unsaid";
- a number-role head, which tells for each number whether it counts good examples of the wanted input and output,
  or something else (users, requests, pages, money, dates, items to produce, model size).

"stated" survives only where a rule read the value and the head agrees: a stated finding is one a clause says.
Whatever else the head reads is "inferred", with the head's probability as its confidence; so is every reading of
a goal written mostly in another language (language.mostly_english).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from agent.interviewer.language import mostly_english
from agent.interviewer.numbers import mentions, spans

UNSAID = "unsaid"
# The facts a head decides, with the values it chooses from (besides UNSAID).
FACTS: dict[str, tuple[Any, ...]] = {
    "prompting": ("not_tried", "fell_short", "good_enough"),
    "problem": ("knowledge", "behaviour", "both"),
    "data_quality": ("good", "unreviewed", "generated_unfiltered", "low_agreement", "inputs_only", "old_format"),
    "stable": (True, False),
    "private": (True, False),
}
# What the interview assumes when a fact is unsaid (graphs.interview.ASSUMED): a head's "unsaid" decides the same.
UNSAID_MEANS: dict[str, Any] = {
    "prompting": "not_tried",
    "problem": "behaviour",
    "data_quality": "good",
    "stable": True,
    "private": True,
}
# The rules' readings given to every head as features: each value one-hot, and whether it was stated.
READINGS: dict[str, tuple[Any, ...]] = {
    "prompting": FACTS["prompting"],
    "prompt_large": (True,),
    "behaviour": (True,),
    "knowledge": (True,),
    "examples": ("few", "enough", "large"),
    "data_quality": FACTS["data_quality"],
    "stable": (True, False),
    "private": (True, False),
    "openai_customer": (True, False),
    "complex_domain": (True,),
    "best_quality": (True,),
    "fast_iteration": (True,),
}
KINDS = ("examples", "raw", "few_shot", "documents", "requests_per_month")  # numbers.mentions' kinds
ROLE_MIN = 0.5  # a number is the example count when the role head gives it at least this
ROLE_ASK = 0.25  # ... and between this and ROLE_MIN a count the rules read stays, inferred, to be asked about
# A rule's reading stays "stated" only where its head agrees at least this surely; below it the reading is
# "inferred" with the head's probability (chosen leaving authors out: it holds the share of stated findings that
# are wrong down, at the cost of more questions).
STATED_MIN = 0.95
# Step 2 is an interpretation of the whole goal (a knowledge cue does not say that nothing of the behaviour is
# wanted), and it was the reading most often stated wrongly across authors: it needs a surer head to stay stated.
PROBLEM_STATED_MIN = 0.99
# A cue a rule read in so many words is overruled only by a sure head: leaving authors out, letting an unsure head
# overrule it (0.5, or always) read knowledge versus behaviour better but the approach worse (0.852 and 0.846
# pooled, against 0.869 at 0.8).
PROBLEM_OVERRULE_MIN = 0.8
# A rule's reading of words the text states ("a careful prompt fell short") is overruled only by a head this sure:
# the heads learn from whole goals, and a clause they give little weight to can still say it plainly.
STATED_OVERRULE_MIN = 0.9
# A head reads a value no rule found only when at least this sure: otherwise a goal that never mentions its data
# could be read as having bad data from its topic alone (a legal goal near the corpus's legal goals with bad labels).
CREATE_MIN = 0.7
OVERRULE_MIN = 0.5  # a head overrules a rule's different reading only when it is at least this sure
# How much of step 2's reading is the fine-tuned model's (problem_model.py) rather than the head's, where both read:
# chosen leaving author groups out (benchmarks/interview_accuracy.py --problem-cv; on the first two of five groups,
# 1,363 goals, approach 0.883 at 0.5, 0.890 at 0.7, 0.891 at 0.85 and 0.890 at 1, against 0.873 for the head alone).
PROBLEM_MODEL_SHARE = 0.85
# How much of a number's role is the fine-tuned role model's (role_model.py) rather than the role head's: chosen
# leaving author groups out over all five groups (--role-cv; 3,050 goals), approach 0.8885 at 0.5, 0.8895 at 0.6 and
# 0.8885 at 0.7 (0.8852 at 1 on a first run's readings), against 0.8823 for the head alone.
ROLE_MODEL_SHARE = 0.6
WINDOW = 70  # characters either side of a number that its role is read from
DIM = 384  # MiniLM's vector size


def bucket(examples: int) -> str:
    """Return what the decision makes of a count: too few, enough, or a large (enterprise-scale) dataset."""
    return "few" if examples < 50 else "large" if examples >= 10_000 else "enough"


def reading_features(findings: Sequence[Any]) -> np.ndarray:
    """One-hot the rules' readings: per fact, which value was read and whether a rule stated it."""
    by_fact = {f.fact: f for f in findings}
    out: list[float] = []
    for fact, values in READINGS.items():
        f = by_fact.get(fact)
        value = None if f is None else bucket(f.value) if fact == "examples" else f.value
        out.extend(float(value == v) for v in values)
        out.append(float(f is not None and f.how == "stated"))
    return np.asarray(out, dtype=np.float32)


# The labelled sentences of examples.json (offline.load_bank), in a fixed order: a goal's closeness to each label
# is a handful of features that carry across authors better than hundreds of raw vector dimensions.
BANK = (
    ("prompting", "not_tried"),
    ("prompting", "fell_short"),
    ("prompting", "good_enough"),
    ("problem", "behaviour"),
    ("problem", "knowledge"),
    ("stable", "true"),
    ("stable", "false"),
    ("private", "true"),
    ("private", "false"),
    ("neutral", ""),
)


def bank_features(vectors: np.ndarray, bank: dict[str, Any]) -> np.ndarray:
    """Return, per label of the bank, the closest any sentence comes to it (the max cosine), and the mean of those
    closest matches over the sentences.
    """
    out: list[float] = []
    for group, label in BANK:
        rows = bank[group] if not label else bank[group][label]
        sims = vectors @ np.asarray(rows, dtype=np.float32).T if len(vectors) else np.zeros((1, 1), np.float32)
        best = sims.max(axis=1)
        out.extend((float(best.max()), float(best.mean())))
    return np.asarray(out, dtype=np.float32)


def goal_features(vectors: np.ndarray, findings: Sequence[Any], bank: dict[str, Any]) -> np.ndarray:
    """Return a goal as features: the mean and the max of its sentences' vectors, the rules' readings, and how close
    its sentences come to the bank's labelled sentences.
    """
    if len(vectors) == 0:
        vectors = np.zeros((1, DIM), dtype=np.float32)
    parts = [vectors.mean(axis=0), vectors.max(axis=0), reading_features(findings), bank_features(vectors, bank)]
    return np.concatenate(parts).astype(np.float32)


TERM = re.compile(r"\b\w\w+\b")  # a word of two or more letters or digits, as the lexicon counts them


def terms(text: str) -> list[str]:
    """Return a text's words and adjacent word pairs, lowercased: the lexicon's terms."""
    words = TERM.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class Lexicon:
    """Which words and word pairs a goal uses, weighted by how rare they are across the training goals (tf-idf).

    The sentence vectors blur the few words that decide a fact ("answers live in the policy manuals" against "in our
    partners' voice"); counted words keep them. Leaving each author out, adding them took knowledge versus behaviour
    from 0.81 to 0.87 on the blind authors, and the approach from 0.826 to 0.870 (benchmarks/interview_accuracy.py).
    """

    words: tuple[str, ...]
    idf: np.ndarray  # (words,)
    index: dict[str, int] = field(init=False, repr=False, compare=False)  # each term's column

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})

    @classmethod
    def fit(cls, texts: Sequence[str], min_goals: int = 3) -> Lexicon:
        """Keep the terms at least `min_goals` texts use (rarer ones are one author's words), with their idf."""
        seen: dict[str, int] = {}
        for text in texts:
            for term in set(terms(text)):
                seen[term] = seen.get(term, 0) + 1
        words = tuple(sorted(t for t, n in seen.items() if n >= min_goals))
        df = np.array([seen[t] for t in words], dtype=np.float64)
        return cls(words, (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32))

    def vector(self, text: str) -> np.ndarray:
        """Return the text's tf-idf vector: 1 + log(count) per known term, times its idf, scaled to length 1."""
        out: np.ndarray = np.zeros(len(self.words), dtype=np.float32)
        for term in terms(text):
            i = self.index.get(term)
            if i is not None:
                out[i] += 1.0
        seen = out > 0
        out[seen] = (1.0 + np.log(out[seen])) * self.idf[seen]
        norm = float(np.linalg.norm(out))
        return out / norm if norm else out


def fact_features(
    text: str, vectors: np.ndarray, findings: Sequence[Any], bank: dict[str, Any], lexicon: Lexicon | None
) -> np.ndarray:
    """Return what a fact head reads of a goal: goal_features, then the lexicon's vector of its words (if any)."""
    x = goal_features(vectors, findings, bank)
    return x if lexicon is None else np.concatenate([x, lexicon.vector(text)])


@dataclass(frozen=True)
class Number:
    """One number in a text, with the words around it that say what it counts."""

    value: int
    start: int
    end: int
    window: str


def numbers_in(text: str) -> list[Number]:
    """Every number of `text` a role could be given to, with its window of words."""
    out = []
    for start, end, value in spans(text):
        a, b = max(0, start - WINDOW), min(len(text), end + WINDOW)
        a = text.rfind(" ", 0, a) + 1 if a else 0  # whole words only
        b = text.find(" ", b) if b < len(text) and text.find(" ", b) != -1 else len(text)
        out.append(Number(value, start, end, text[a:b]))
    return out


def number_features(text: str, number: Number, vector: np.ndarray, findings: Sequence[Any]) -> np.ndarray:
    """Return a number as features: its window's vector, its magnitude, what the rules made of it, and the marks around it."""
    counted = next((f for f in findings if f.fact == "examples"), None)
    kinds = {m.kind for m in mentions(number.window) if m.value == number.value}
    after, before = text[number.end : number.end + 3].lower(), text[max(0, number.start - 2) : number.start]
    magnitude = math.log10(number.value + 1)
    marks = [
        float(counted is not None and counted.value == number.value),
        float(counted is not None and counted.value == number.value and counted.how == "stated"),
        *(float(k in kinds) for k in KINDS),
        float(bool(re.match(r"\s?%|\s?percent", after))),
        float(bool(re.search(r"[$€£]", before))),
        float(1900 <= number.value <= 2100),
        *(float(lo <= magnitude < hi) for lo, hi in ((0, 1), (1, 1.7), (1.7, 3), (3, 4), (4, 5), (5, 99))),
    ]
    return np.concatenate([vector, np.asarray(marks, dtype=np.float32)]).astype(np.float32)


@dataclass(frozen=True)
class Head:
    """One softmax classifier over standardised features."""

    classes: tuple[Any, ...]
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Return each class's probability for the features `x`."""
        z = self.weights @ ((x - self.mean) / self.scale) + self.bias
        z = np.exp(z - z.max())
        return z / z.sum()

    def predict(self, x: np.ndarray) -> tuple[Any, float]:
        """Return the likeliest class and its probability."""
        p = self.probabilities(x)
        i = int(p.argmax())
        return self.classes[i], float(p[i])


@dataclass(frozen=True)
class Heads:
    """The fact heads and the number-role head, as trained together."""

    facts: dict[str, Head]
    role: Head  # classes: (False, True): True when the number counts good examples
    lexicon: Lexicon | None = None  # the goal's words, after goal_features, for every fact head (None: not used)

    def features(self, text: str, vectors: np.ndarray, findings: Sequence[Any], bank: dict[str, Any]) -> np.ndarray:
        """Return what these fact heads read of a goal (fact_features with their lexicon)."""
        return fact_features(text, vectors, findings, bank, self.lexicon)

    def save(self, path: Path) -> None:
        """Write the weights as one .npz (through a temporary file, so a crash never leaves half a file)."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, list] = {}
        for name, head in {**self.facts, "_role": self.role}.items():
            meta[name] = list(head.classes)
            for part in ("weights", "bias", "mean", "scale"):
                arrays[f"{name}.{part}"] = getattr(head, part).astype(np.float32)
        if self.lexicon is not None:
            arrays["_lexicon.words"] = np.frombuffer("\n".join(self.lexicon.words).encode(), dtype=np.uint8)
            arrays["_lexicon.idf"] = self.lexicon.idf.astype(np.float32)
        arrays["_meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub types the kwargs as allow_pickle
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path | None = None) -> Heads:
        """Read heads.npz (the shipped one when no path is given)."""
        source = path or resources.files("agent.interviewer").joinpath("heads.npz")
        with source.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            meta = json.loads(bytes(data["_meta"]).decode())
            heads = {
                name: Head(
                    tuple(classes),
                    *(
                        np.asarray(data[f"{name}.{part}"], dtype=np.float32)
                        for part in ("weights", "bias", "mean", "scale")
                    ),
                )
                for name, classes in meta.items()
            }
            lexicon = None
            if "_lexicon.words" in data:
                joined = bytes(data["_lexicon.words"]).decode()
                words = tuple(joined.split("\n")) if joined else ()  # a term never holds a newline (\w only)
                lexicon = Lexicon(words, np.asarray(data["_lexicon.idf"], dtype=np.float32))
        role = heads.pop("_role")
        return cls(facts=heads, role=role, lexicon=lexicon)


@dataclass(frozen=True)
class Mixed(Head):
    """A head whose probabilities are mixed with another reader's for the same goal (problem_model.py for step 2):
    `share` of them are the other reader's. Its weights still say which sentence pulls towards a value (_evidence).
    """

    other: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # the other reader's, in our classes
    share: float = 1.0

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Return the mix of this head's probabilities and the other reader's."""
        return (1.0 - self.share) * super().probabilities(x) + self.share * self.other


def mixed(head: Head, other: dict[Any, float], share: float) -> Mixed:
    """Return `head` mixed with another reader's probabilities ({class: p}; a class it lacks counts 0)."""
    p = np.asarray([other.get(c, 0.0) for c in head.classes], dtype=np.float32)
    return Mixed(head.classes, head.weights, head.bias, head.mean, head.scale, p / max(float(p.sum()), 1e-9), share)


def shipped() -> bool:
    """Tell whether the trained heads ship with this install."""
    return resources.files("agent.interviewer").joinpath("heads.npz").is_file()


# ---- the revision: the heads' reading of a goal, over the rules' ----------------------------------------------


def revise(
    text: str,
    found: dict[str, Any],
    heads: Heads,
    sentences: Sequence[str],
    vectors: np.ndarray,
    numbers: Sequence[Number],
    number_vectors: np.ndarray,
    make: Callable[..., Any],
    bank: dict[str, Any],
    problem: dict[str, float] | None = None,
    roles: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """Return the findings with each head's fact decided by its head and the example count by the role head.

    `make(fact, value, evidence, how, confidence)` builds a Finding; `sentences` and `vectors` are the goal's
    sentences and their vectors, `numbers` and `number_vectors` its numbers and their windows' vectors, `bank` the
    labelled sentences' vectors (offline.load_bank); `problem` the fine-tuned model's reading of step 2
    (problem_model.py: {class: probability}), mixed into the step-2 head's at PROBLEM_MODEL_SHARE; `roles` the
    fine-tuned role model's probability that each of `numbers` counts the good examples (role_model.py; None for
    one it did not read), mixed into the role head's at ROLE_MODEL_SHARE.
    """
    out = dict(found)
    x = heads.features(text, vectors, list(found.values()), bank)
    for fact, head in heads.facts.items():
        if fact == "problem" and problem is not None:
            head = mixed(head, problem, PROBLEM_MODEL_SHARE)
        value, p = _choose(head, x, UNSAID_MEANS[fact])
        if value == UNSAID and fact in out and out[fact].value == UNSAID_MEANS[fact]:
            value = UNSAID_MEANS[fact]  # the text says what unsaid would assume ("the voice is stable"): keep it said
        if fact == "problem":
            _problem(out, value, p, head, x, sentences, vectors, make)
            continue
        rule = out.get(fact)
        if (
            rule is not None
            and rule.value != value
            and p < (STATED_OVERRULE_MIN if rule.how == "stated" else OVERRULE_MIN)
        ):
            # The head leans elsewhere but not surely: the rule's reading stands, inferred at the head's odds for it.
            out[fact] = replace(
                rule, how="inferred", confidence=round(min(rule.confidence, _odds(head, x, rule.value)), 2)
            )
        elif value == UNSAID:
            out.pop(fact, None)
        elif rule is None and p < CREATE_MIN:
            continue  # no words for it, and the head is not sure: left unsaid, so the interview assumes or asks
        elif rule is not None and rule.value == value:
            out[fact] = _agreed(rule, p)  # the rule's words and the head agree: stated where the head is sure too
        else:
            out[fact] = make(fact, value, _evidence(head, value, sentences, vectors, rule), "inferred", round(p, 2))
    _examples(out, heads.role, text, numbers, number_vectors, make, roles)
    if not mostly_english(text):  # the words the rules read are a few English ones among others: ask, never vouch
        out = {
            k: replace(f, how="inferred", confidence=min(f.confidence, 0.5)) if f.how == "stated" else f
            for k, f in out.items()
        }
    return out


def _choose(head: Head, x: np.ndarray, default: Any) -> tuple[Any, float]:
    """Return the head's reading and its probability, choosing between the readings the decision tells apart:
    unsaid is decided as the default (the interview assumes it), so their probabilities count together; within
    that pair the likelier one is the reading (unsaid: no finding).
    """
    p = head.probabilities(x)
    i_unsaid, i_default = head.classes.index(UNSAID), head.classes.index(default)
    merged = p.copy()
    merged[i_default] += merged[i_unsaid]
    merged[i_unsaid] = 0.0
    i = int(merged.argmax())
    if i == i_default:
        return (UNSAID if p[i_unsaid] > p[i_default] else default), float(merged[i])
    return head.classes[i], float(p[i])


_CUES = {"knowledge": ("knowledge",), "behaviour": ("behaviour",), "both": ("behaviour", "knowledge")}


def _problem(
    out: dict[str, Any],
    value: Any,
    p: float,
    head: Head,
    x: np.ndarray,
    sentences: Sequence[str],
    vectors: np.ndarray,
    make: Callable[..., Any],
) -> None:
    """Step 2 is read as its two cues (graphs.interview.problem_fact joins them): set the cues the head chose."""
    cues = _CUES.get(value, ())
    before: dict[str, Any] = {c: out.pop(c) for c in ("behaviour", "knowledge") if c in out}
    out.pop("problem", None)
    said = next((k for k, v in _CUES.items() if set(v) == set(before)), None)
    if value == UNSAID and said == UNSAID_MEANS["problem"]:
        value = said  # a behaviour cue is what unsaid assumes: keep it said
        cues = _CUES[value]
    if said is not None and said != value and p < PROBLEM_OVERRULE_MIN:
        # The rules read a cue in so many words and the head is not sure they are wrong: their reading stands,
        # inferred at the head's odds for it, so the interview asks.
        sure = _odds(head, x, said)
        for cue, rule in before.items():
            out[cue] = replace(rule, how="inferred", confidence=round(min(rule.confidence, sure), 2))
        return
    same = set(before) == set(cues)
    for cue in cues:
        rule = before.get(cue)
        if rule is not None and same:
            out[cue] = _agreed(rule, p, PROBLEM_STATED_MIN)
        else:
            evidence = rule.evidence if rule is not None else _evidence(head, value, sentences, vectors, None)
            out[cue] = make(cue, True, evidence, "inferred", round(p, 2))


def _odds(head: Head, x: np.ndarray, value: Any) -> float:
    """Return the head's probability for `value` (0 where it is not one of its classes)."""
    return float(head.probabilities(x)[head.classes.index(value)]) if value in head.classes else 0.0


def _agreed(rule: Any, p: float, least: float | None = None) -> Any:
    """Return a rule's reading that its head agrees with: stated where the head is sure (`least`, default
    STATED_MIN), else inferred at the head's odds.
    """
    if rule.how == "stated" and p >= (STATED_MIN if least is None else least):
        return replace(rule, confidence=round(min(rule.confidence, p), 2))
    return replace(rule, how="inferred", confidence=round(min(rule.confidence, p), 2))


def _evidence(head: Head, value: Any, sentences: Sequence[str], vectors: np.ndarray, rule: Any) -> str:
    """Return the sentence that pulls the head most towards `value`: its weights on the mean vector, against each sentence."""
    if not len(sentences):
        return rule.evidence if rule is not None else ""
    i = head.classes.index(value)
    w = head.weights[i, :DIM] / head.scale[:DIM]
    return sentences[int((vectors @ w).argmax())]


def _examples(
    out: dict[str, Any],
    role: Head,
    text: str,
    numbers: Sequence[Number],
    number_vectors: np.ndarray,
    make: Callable[..., Any],
    roles: Sequence[float | None] | None = None,
) -> None:
    """Give each number a role (the role head's, mixed with the role model's `roles` where given); the likeliest
    count of good examples becomes the example count.
    """
    rule = out.get("examples")
    if rule is not None and rule.value == 0:
        return  # "no data yet", "none of it labelled": said in words, not a number to give a role
    findings = list(out.values())
    scored = []
    for i, (n, vec) in enumerate(zip(numbers, number_vectors)):
        p = float(role.probabilities(number_features(text, n, vec, findings))[role.classes.index(True)])
        other = None if roles is None else roles[i]
        if other is not None:
            p = (1.0 - ROLE_MODEL_SHARE) * p + ROLE_MODEL_SHARE * other
        scored.append((p, n))
    best = max(scored, key=lambda s: s[0], default=None)
    if best is not None and best[0] >= ROLE_MIN:
        p, n = best
        if rule is not None and rule.value == n.value:
            out["examples"] = _agreed(rule, p)
        else:
            out["examples"] = make("examples", n.value, n.window.strip(), "inferred", round(p, 2))
        return
    mine = next((p for p, n in scored if rule is not None and n.value == rule.value), None)
    if rule is not None and mine is not None and mine >= ROLE_ASK:
        out["examples"] = replace(rule, how="inferred", confidence=round(mine, 2))  # unclear role: inferred, asked
    else:
        out.pop("examples", None)  # the number counts something else: users, requests, pages, money
