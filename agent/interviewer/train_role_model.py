"""Train role_model.npz: LoRA adapters on MiniLM's top layers and a classifier that tell which number of a goal
counts its good examples.

    python -m agent.interviewer.train_role_model                    # every author but the untouched one
    python -m agent.interviewer.train_role_model --cv 5 --cv-out F  # out-of-fold readings, author groups left out

A number is labelled a count when it is the goal's labelled `examples` (train_heads.count_targets, as the role head
learns). The bottom FROZEN layers of MiniLM stay as shipped, so their states are computed once per goal and cached:
training reads each goal through three layers, not six, which halves the time on a CPU (about 5 minutes per model
on two cores). Every number of a goal is read from the same pass.

Training needs torch, transformers and peft; reading does not (role_model.py).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from agent.interviewer import problem_model
from agent.interviewer.heads import numbers_in
from agent.interviewer.train_heads import UNTOUCHED, count_targets
from agent.interviewer.train_problem_model import (
    BATCH,
    EPOCHS,
    LEARNING_RATE,
    MAX_LENGTH,
    RANK,
    digest,
    export,
    groups,
    start,
    write_readings,
)

FROZEN = 3  # MiniLM's bottom layers left as shipped (no adapters); chosen for time, leaving author groups out
CLASSES = ("False", "True")  # True: the number counts the good examples


def spans(goal: dict) -> list[tuple[int, int, bool | None]]:
    """Return a goal's numbers as (start, end, counts the good examples), None where the labels cannot tell."""
    numbers = numbers_in(goal["goal"])
    wanted = count_targets(goal, numbers)
    return [(n.start, n.end, None if wanted is None else wanted[i]) for i, n in enumerate(numbers)]


def labelled(goal: dict) -> list:
    """Return what digest names of a goal: its numbers' spans and targets."""
    return [list(s) for s in spans(goal)]


class _Encoded:
    """Goals tokenised once, each number's tokens found, and the frozen layers' states cached."""

    def __init__(self, texts: Sequence[str], numbers: Sequence[Sequence[tuple[int, int]]], base: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.ids, self.tokens = [], []
        for text, found in zip(texts, numbers):
            enc = self.tokenizer(text, truncation=True, max_length=MAX_LENGTH, return_offsets_mapping=True)
            self.ids.append(enc["input_ids"])
            offsets = enc["offset_mapping"]
            self.tokens.append([[i for i, (a, b) in enumerate(offsets) if b > a and a < e and b > s] for s, e in found])
        frozen = AutoModel.from_pretrained(base).eval()
        self.states: list[Any] = [None] * len(texts)
        with torch.no_grad():
            for rows, mask in _padded(self.ids, range(len(texts)), 64):
                ids = torch.zeros(mask.shape, dtype=torch.long)
                for j, i in enumerate(rows):
                    ids[j, : len(self.ids[i])] = torch.tensor(self.ids[i])
                h = frozen.embeddings(input_ids=ids)
                for layer in frozen.encoder.layer[:FROZEN]:
                    h = layer(h, attention_mask=_additive(mask))
                for j, i in enumerate(rows):
                    self.states[i] = h[j, : len(self.ids[i])].clone()


def _additive(mask: Any) -> Any:
    """Return the attention mask as BERT's layers add it: 0 where a token is read, the float minimum on padding."""
    import torch

    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def _padded(ids: list[list[int]], rows: Any, size: int, rng: random.Random | None = None) -> Any:
    """Yield (rows, mask) batches of similar lengths, in a shuffled order when `rng` is given."""
    import torch

    ordered = sorted(rows, key=lambda i: len(ids[i]))
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        mask = torch.zeros(len(chunk), max(len(ids[i]) for i in chunk), dtype=torch.long)
        for j, i in enumerate(chunk):
            mask[j, : len(ids[i])] = 1
        yield chunk, mask


def _Model(encoder: Any) -> Any:
    import torch

    class Model(torch.nn.Module):
        """MiniLM's top layers (with adapters) over the cached states; a number is the mean of its tokens' states
        beside the goal's mean, then a linear layer: as role_model reads.
        """

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.top = encoder.base_model.model.encoder.layer[FROZEN:]
            self.out = torch.nn.Linear(2 * encoder.config.hidden_size, len(CLASSES))

        def forward(self, states: Any, mask: Any, picks: list[tuple[int, list[int]]]) -> Any:
            h = states
            for layer in self.top:
                h = layer(h, attention_mask=_additive(mask))
            m = mask.unsqueeze(-1).float()
            goal = (h * m).sum(1) / m.sum(1)
            return self.out(torch.stack([torch.cat([h[b, rows].mean(0), goal[b]]) for b, rows in picks]))

    return Model()


def _batches(data: _Encoded, rows: Any, size: int, rng: random.Random | None, keep: Callable[[int, int], bool]) -> Any:
    """Yield (states, mask, picks, which) batches: picks the (row in batch, tokens) of each number kept, which its
    (goal, number) indices.
    """
    import torch

    for chunk, mask in _padded(data.ids, rows, size, rng):
        states = torch.zeros(*mask.shape, data.states[chunk[0]].shape[-1])
        picks, which = [], []
        for j, i in enumerate(chunk):
            states[j, : len(data.ids[i])] = data.states[i]
            for k, tokens in enumerate(data.tokens[i]):
                if tokens and keep(i, k):
                    picks.append((j, tokens))
                    which.append((i, k))
        if picks:
            yield states, mask, picks, which


def train(
    texts: Sequence[str],
    numbers: Sequence[Sequence[tuple[int, int, bool | None]]],
    base: Path,
    *,
    epochs: int = EPOCHS,
    rank: int = RANK,
    lr: float = LEARNING_RATE,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Any:
    """Fine-tune adapters on the top layers and a classifier on the numbers whose role is labelled; return the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(seed)
    rng = random.Random(seed)
    data = _Encoded(texts, [[(s, e) for s, e, _ in found] for found in numbers], base)
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.1,
        target_modules=["query", "key", "value", "dense"],
        layers_to_transform=list(range(FROZEN, AutoConfig.from_pretrained(base).num_hidden_layers)),
        layers_pattern="layer",
    )
    model = _Model(get_peft_model(AutoModel.from_pretrained(base), config))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * ((len(texts) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    started = time.time()

    def known(i: int, k: int) -> bool:
        return numbers[i][k][2] is not None

    for epoch in range(epochs):
        total, seen = 0.0, 0
        for states, mask, picks, which in _batches(data, range(len(texts)), BATCH, rng, known):
            target = torch.tensor([int(bool(numbers[i][k][2])) for i, k in which])
            loss = torch.nn.functional.cross_entropy(model(states, mask, picks), target)
            loss.backward()
            opt.step()
            schedule.step()
            opt.zero_grad()
            total, seen = total + loss.item() * len(which), seen + len(which)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / max(seen, 1):.3f} ({time.time() - started:.0f}s)")
    model.eval()
    model.base = base
    return model


def predict(model: Any, texts: Sequence[str], numbers: Sequence[Sequence[tuple[int, int]]]) -> list[list[float | None]]:
    """Return, per goal, each number's probability of counting the good examples (None: past MAX_LENGTH)."""
    import torch

    data = _Encoded(texts, numbers, model.base)
    out: list[list[float | None]] = [[None] * len(found) for found in numbers]
    with torch.no_grad():
        for states, mask, picks, which in _batches(data, range(len(texts)), 64, None, lambda i, k: True):
            p = torch.softmax(model(states, mask, picks), dim=-1)[:, CLASSES.index("True")].tolist()
            for (i, k), q in zip(which, p):
                out[i][k] = float(q)
    return out


def cross_validate(
    goals: list[tuple[str, dict]], base: Path, k: int, log: Callable[[str], None] = print, **kw: Any
) -> dict:
    """Return each number's probability from the model trained without its author's group: {"groups",
    "readings": {author: {goal id: {start: p}}}}.
    """
    fold = groups([a for a, _ in goals], k)
    found = [spans(g) for _, g in goals]
    readings: dict[str, dict[str, dict[str, float]]] = {}
    for g in range(k):
        train_rows = [i for i, (a, _) in enumerate(goals) if fold[a] != g and found[i]]
        test_rows = [i for i, (a, _) in enumerate(goals) if fold[a] == g and found[i]]
        log(f"fold {g + 1}/{k}: training on {len(train_rows)} goals with numbers, reading {len(test_rows)}")
        model = train([goals[i][1]["goal"] for i in train_rows], [found[i] for i in train_rows], base, log=log, **kw)
        read = predict(
            model, [goals[i][1]["goal"] for i in test_rows], [[(s, e) for s, e, _ in found[i]] for i in test_rows]
        )
        for i, probs in zip(test_rows, read):
            author, item = goals[i]
            readings.setdefault(author, {})[item["id"]] = {
                str(s): round(p, 5) for (s, _, _), p in zip(found[i], probs) if p is not None
            }
    return {"classes": list(CLASSES), "groups": fold, "readings": readings}


def main(argv: list[str] | None = None) -> int:
    """Train on every author but the untouched one and write the adapters, or with --cv write out-of-fold readings."""
    started = start(argv, __doc__.split("\n\n")[0], Path(__file__).with_name("role_model.npz"))
    if isinstance(started, int):
        return started
    args, goals = started
    settings = {"epochs": args.epochs, "rank": RANK, "lr": LEARNING_RATE, "max_length": MAX_LENGTH, "frozen": FROZEN}
    trained_from = digest(goals, settings, labelled)
    if args.cv:
        done = cross_validate(goals, problem_model.base_folder(), args.cv, epochs=args.epochs)
        write_readings(args.cv_out, {**done, "settings": settings, "trained_from": trained_from})
        print(
            f"wrote out-of-fold readings of the numbers of {len(goals)} goals ({args.cv} author groups) to {args.cv_out}"
        )
        return 0
    found = [spans(g) for _, g in goals]
    rows = [i for i, f in enumerate(found) if f]
    model = train(
        [goals[i][1]["goal"] for i in rows], [found[i] for i in rows], problem_model.base_folder(), epochs=args.epochs
    )
    adapters, head, scale = export(model)
    meta = {"classes": list(CLASSES), "r": RANK, "alpha": scale * RANK, **settings, "trained_from": trained_from,
            "authors": sorted({a for a, _ in goals})}  # fmt: skip
    problem_model.save(args.out, adapters, head, meta)
    print(f"trained on the numbers of {len(rows)} goals by {len(meta['authors'])} authors; wrote {args.out}")
    print(f"not trained on: {UNTOUCHED[0]}, the untouched set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
