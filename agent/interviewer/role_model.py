"""Which number counts the good examples, read by MiniLM fine-tuned with LoRA (train_role_model.py).

The role head (heads.py) reads a number from the MiniLM vector of the seventy characters around it. Leaving authors
out, the counts it missed were the ones said far from their number or in words a window cannot weigh: "2,000
approved sections", "700 pages signed off by the creative director" (pages, but of the wanted output), "9,500 calls
our annotators labelled" beside "40,000 calls a day". This model reads the whole goal once and each number from its
own tokens' states in that reading, beside the goal's mean: a number's role is read in the light of every clause.

Its probability that a number counts good examples is mixed into the role head's (heads.ROLE_MODEL_SHARE). Like the
step-2 model it is numpy at run time: the adapters of role_model.npz are merged into the MiniLM tunewise ships.
"""

from __future__ import annotations

from importlib import resources
from typing import ClassVar, Sequence

import numpy as np

from agent.interviewer.problem_model import ProblemModel


class RoleModel(ProblemModel):
    """MiniLM with its adapters merged in; a number is the mean of its tokens' states beside the goal's mean."""

    FILE: ClassVar[str] = "role_model.npz"

    def roles(self, text: str, spans: Sequence[tuple[int, int]]) -> list[float | None]:
        """Return, for each (start, end) character span of `text`, the probability that the number there counts
        the good examples; None for a number past the tokens the model reads (MAX_LENGTH).
        """
        encoding = self.tokenizer.encode(text)
        states = self.hidden(np.asarray(encoding.ids, dtype=np.int64))
        goal = states.mean(axis=0)
        weight, bias = self.head
        out: list[float | None] = []
        for start, end in spans:
            # the tokens that overlap the number's characters ([CLS] and [SEP] have empty offsets)
            rows = [i for i, (a, b) in enumerate(encoding.offsets) if b > a and a < end and b > start]
            if not rows:
                out.append(None)
                continue
            z = weight @ np.concatenate([states[rows].mean(axis=0), goal]) + bias
            z = np.exp(z - z.max())
            out.append(float(z[self.classes.index("True")] / z.sum()))
        return out


def shipped() -> bool:
    """Tell whether the trained role model ships with this install."""
    return resources.files("agent.interviewer").joinpath(RoleModel.FILE).is_file()
