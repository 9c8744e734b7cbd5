"""Per-example evaluation metrics, chosen from what the references look like.

Every metric is measured the same way on an output and on its reference. Per-example values are floats in a
known range, or NaN where the metric does not apply to that example, so the bootstrap can resample examples and
average; macro-F1 is the one corpus-level statistic and gets its own function.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tools.errors import TunewiseError

if TYPE_CHECKING:
    from tools.rag.embedders import LocalEmbedder, OpenAIEmbedder


@dataclass(frozen=True)
class Metric:
    """A metric as the report shows it: its name, its words, which way is better, and whether it ranks."""

    name: str
    label: str  # how the report and the verdict say it
    better: Literal["higher", "lower"] | None  # None: informative, never a win or a loss (length ratio)
    points: bool = True  # a 0..1 rate, shown as points out of 100
    ranks: bool = True  # counts towards the winner; components of another metric do not, to avoid counting twice


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("format_adherence", "format adherence", "higher"),
        Metric("json_validity", "JSON validity", "higher", ranks=False),
        Metric("schema_validity", "schema validity", "higher", ranks=False),
        Metric("structure_match", "structural habits", "higher", ranks=False),
        Metric("label_accuracy", "label accuracy", "higher"),
        Metric("macro_f1", "macro-F1", "higher"),
        Metric("rouge_l", "ROUGE-L", "higher"),
        Metric("similarity", "similarity", "higher"),
        Metric("length_ratio", "length ratio", None, points=False, ranks=False),
        Metric("refusal_rate", "refusal rate", "lower"),
        Metric("judge", "judge win rate", "higher"),
    ]
}

# Ties on the winner's count of significant wins are broken by the first of these a run measured.
PRIMARY = ("judge", "label_accuracy", "format_adherence", "similarity", "rouge_l")

# --- structure ------------------------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S")
_BULLET = re.compile(r"^\s*[-*•]\s+\S")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_SIGN_OFF = re.compile(
    r"^\W*(best( regards| wishes)?|kind regards|warm regards|regards|cheers|thanks( again| so much)?|thank you|"
    r"sincerely|all the best|talk soon|take care|hope this helps|let me know if|feel free to|happy to help)\b",
    re.I,
)


def _lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


def list_style(text: str) -> str:
    """'numbered', 'bullets' or 'none': whichever kind of list line the text has more of."""
    lines = _lines(text)
    numbered = sum(bool(_NUMBERED.match(line)) for line in lines)
    bullets = sum(bool(_BULLET.match(line)) for line in lines)
    if not numbered and not bullets:
        return "none"
    return "numbered" if numbered >= bullets else "bullets"


def has_summary_line(text: str) -> bool:
    """Whether the text opens with a short prose line (not a list item or heading) with more content after it."""
    lines = _lines(text)
    if len(lines) < 2:
        return False
    first = lines[0]
    return not (_NUMBERED.match(first) or _BULLET.match(first) or _HEADING.match(first)) and len(first.split()) <= 30


def has_sign_off(text: str) -> bool:
    """Whether the text closes like a message: its last line, or the one before a short name line ('Best,',
    'Hope this helps').
    """
    lines = _lines(text)
    if len(lines) < 2:
        return False
    tail = lines[-2:] if len(lines[-1].split()) <= 3 and not _SIGN_OFF.match(lines[-1]) else lines[-1:]
    return bool(_SIGN_OFF.match(tail[0]))


def habits(text: str) -> dict[str, Any]:
    """Return the text's structural habits: summary_line, list_style and sign_off."""
    return {"summary_line": has_summary_line(text), "list_style": list_style(text), "sign_off": has_sign_off(text)}


def structure_match(output: str, reference: str) -> float:
    """Share of the reference's structural habits the output repeats: summary line, list style, sign-off."""
    want, got = habits(reference), habits(output)
    return sum(want[k] == got[k] for k in want) / len(want)


# --- JSON -----------------------------------------------------------------------------------------------------


def parse_json(text: str) -> tuple[bool, Any]:
    """Return (parsed, value): parsed only for an object or array; a bare number or string is not structured
    output, and neither is JSON inside a markdown fence: whatever reads the output would have to strip it first.
    """
    try:
        value = json.loads(text.strip())
    except ValueError:
        return False, None
    return isinstance(value, (dict, list)), value


def schema_validator(schema: dict, path: str = "--schema") -> Any:
    """Build a jsonschema validator for `schema`; raise a TunewiseError that names the file and the schema's mistake."""
    from jsonschema import exceptions, validators

    try:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise TunewiseError(
            f"not a valid JSON schema: {exc.message}", path=path, hint="check it against https://json-schema.org"
        ) from None
    return cls(schema)


# --- labels ---------------------------------------------------------------------------------------------------


def norm_label(text: str) -> str:
    """Normalise a label for comparison: lower case, punctuation except hyphens to spaces, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s-]", " ", text.lower()).split())


def label_set(references: list[str]) -> list[str] | None:
    """Return the label set when references are repeated short labels (classification), else None."""
    if len(references) < 2 or not all(
        0 < len(r.strip()) <= 40 and len(r.split()) <= 4 and "\n" not in r.strip() for r in references
    ):
        return None
    labels = sorted({norm_label(r) for r in references})
    return labels if 2 <= len(labels) <= max(2, len(references) // 2) else None


def predict_label(output: str, labels: list[str]) -> str:
    """Return the label an output gives: the whole output, else the one label its first line names; '' when unclear."""
    text = norm_label(output)
    if text in labels:
        return text
    first = norm_label(_lines(output)[0]) if _lines(output) else ""
    named = [label for label in labels if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", first)]
    return named[0] if len(named) == 1 else ""


def macro_f1(predicted: list[str], gold: list[str]) -> float:
    """F1 averaged over the gold labels present, each label counting the same however rare."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(p == label and g == label for p, g in zip(predicted, gold))
        fp = sum(p == label and g != label for p, g in zip(predicted, gold))
        fn = sum(p != label and g == label for p, g in zip(predicted, gold))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else math.nan


# --- text overlap, length, refusals ---------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Split lower-cased text into word tokens (runs of word characters)."""
    return _WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence, one row of the table at a time."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(output: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens."""
    out, ref = words(output), words(reference)
    if not out or not ref:
        return float(out == ref)
    lcs = lcs_length(out, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(out), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def length_ratio(output: str, reference: str) -> float:
    """Return the output's words per reference word; NaN for an empty reference."""
    ref = len(words(reference))
    return len(words(output)) / ref if ref else math.nan


_REFUSAL = re.compile(
    r"\b(i(?:'m| am) (?:sorry|afraid),? but|i (?:can(?:'|no)t|cannot|won't|will not|am unable to|'m unable to|"
    r"am not able to|'m not able to) (?:help|assist|provide|do that|answer|comply|fulfil|fulfill|share)|"
    r"as an ai(?: language model)?|i must decline|i do not feel comfortable|i don't feel comfortable)",
    re.I,
)


def is_refusal(text: str) -> bool:
    """Whether the text refuses like an assistant: 'I'm sorry, but', 'I can't help', 'as an AI'..."""
    return bool(_REFUSAL.search(text))


# --- the profile: which metrics this data supports ------------------------------------------------------------


@dataclass
class Profile:
    """What the references are: JSON, short labels, or prose with structural habits."""

    json: bool
    labels: list[str] | None
    schema: Any = None  # a jsonschema validator
    names: list[str] = field(default_factory=list)


def profile(references: list[str], schema: Any = None, *, judge: bool = False) -> Profile:
    """Decide the metrics the references support: JSON when 80% of them parse, labels when they are short repeated
    ones, structural habits for prose without a schema; `schema` is a jsonschema validator, `judge` adds the judge.
    """
    parsed = sum(parse_json(r)[0] for r in references)
    is_json = bool(references) and parsed >= 0.8 * len(references)
    labels = None if is_json else label_set(references)
    names = ["format_adherence"]
    if is_json or schema is not None:
        names.append("json_validity")
    if schema is not None:
        names.append("schema_validity")
    if not is_json and schema is None:
        names.append("structure_match")
    if labels:
        names += ["label_accuracy", "macro_f1"]
    names += ["rouge_l", "similarity", "length_ratio", "refusal_rate"] + (["judge"] if judge else [])
    return Profile(json=is_json, labels=labels, schema=schema, names=names)


def score(
    outputs: list[str], references: list[str], prof: Profile, embedder: LocalEmbedder | OpenAIEmbedder
) -> dict[str, list[float]]:
    """Per-example values of every per-example metric in the profile (macro-F1 comes from `predicted_labels`)."""
    import numpy as np

    out: dict[str, list[float]] = {n: [] for n in prof.names if n not in ("macro_f1", "judge")}
    for text, ref in zip(outputs, references):
        ok, value = parse_json(text)
        if "json_validity" in out:
            out["json_validity"].append(float(ok))
        if "schema_validity" in out:
            out["schema_validity"].append(float(ok and prof.schema.is_valid(value)))
        if "structure_match" in out:
            out["structure_match"].append(structure_match(text, ref))
        fmt = out.get("schema_validity") or out.get("json_validity") or out["structure_match"]
        out["format_adherence"].append(fmt[-1])
        if "label_accuracy" in out:
            out["label_accuracy"].append(float(predict_label(text, prof.labels or []) == norm_label(ref)))
        out["rouge_l"].append(rouge_l(text, ref))
        out["length_ratio"].append(length_ratio(text, ref))
        out["refusal_rate"].append(float(is_refusal(text)))
    vectors_out = embedder.embed([t or " " for t in outputs])
    vectors_ref = embedder.embed([r or " " for r in references])
    sims = np.sum(np.asarray(vectors_out) * np.asarray(vectors_ref), axis=1)
    out["similarity"] = [0.0 if not t.strip() else float(s) for t, s in zip(outputs, sims)]
    return out


def predicted_labels(outputs: list[str], prof: Profile) -> list[str]:
    """Return the label each output gives ('' when unclear), for macro-F1."""
    return [predict_label(t, prof.labels or []) for t in outputs]
