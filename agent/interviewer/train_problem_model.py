"""Train problem_model.npz: LoRA adapters on MiniLM and a classifier that read step 2 from a whole goal text.

    python -m agent.interviewer.train_problem_model                 # every author but the untouched one
    python -m agent.interviewer.train_problem_model --cv 5 --cv-out F  # out-of-fold readings, author groups left out

The labels are the corpora's `problem` (knowledge, behaviour, both; unsaid where the text does not say), the same
goals the heads learn from (train_heads.AUTHORS). `--cv` trains one model per group of authors left out and writes
each goal's probabilities from the model that never saw its author, which benchmarks/interview_accuracy.py reads
(`--problem-cv`) to measure the reader leaving authors out. On two CPU cores a model takes about 15 minutes; on a
GPU, seconds.

Training needs torch, transformers and peft (tunewise's dependencies); reading does not (problem_model.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from agent.interviewer import problem_model
from agent.interviewer.train_heads import AUTHORS, UNTOUCHED, CorpusError, load_items

CLASSES = ("unsaid", "knowledge", "behaviour", "both")  # the problem head's classes, in its order
EPOCHS = 3
RANK = 8
LEARNING_RATE = 1e-3
BATCH = 16
MAX_LENGTH = 256  # MiniLM's own limit in sentence-transformers; the longest goal in the corpora is 273 tokens


def label(item: dict) -> int:
    """Return a goal's class index: its author's `problem`, or unsaid."""
    return CLASSES.index(item["labels"].get("problem") or "unsaid")


def train(
    texts: Sequence[str],
    labels: Sequence[int],
    base: Path,
    *,
    epochs: int = EPOCHS,
    rank: int = RANK,
    lr: float = LEARNING_RATE,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Any:
    """Fine-tune LoRA adapters and a classifier on (text, label); return the torch model (see `export`)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoded = [tokenizer(t, truncation=True, max_length=MAX_LENGTH)["input_ids"] for t in texts]
    model = _Model(
        get_peft_model(
            AutoModel.from_pretrained(base),
            LoraConfig(
                r=rank, lora_alpha=2 * rank, lora_dropout=0.1, target_modules=["query", "key", "value", "dense"]
            ),
        ),
        len(CLASSES),
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * ((len(texts) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    started = time.time()
    for epoch in range(epochs):
        total = 0.0
        for ids, mask, rows in _batches(encoded, range(len(texts)), BATCH, rng):
            loss = torch.nn.functional.cross_entropy(model(ids, mask), torch.tensor([labels[i] for i in rows]))
            loss.backward()
            opt.step()
            schedule.step()
            opt.zero_grad()
            total += loss.item() * len(rows)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / len(texts):.3f} ({time.time() - started:.0f}s)")
    model.eval()
    model.tokenizer = tokenizer
    return model


def predict(model: Any, texts: Sequence[str]) -> np.ndarray:
    """Return (texts, classes) probabilities from a model `train` returned."""
    import torch

    encoded = [model.tokenizer(t, truncation=True, max_length=MAX_LENGTH)["input_ids"] for t in texts]
    out: np.ndarray = np.zeros((len(texts), len(CLASSES)), dtype=np.float32)
    with torch.no_grad():
        for ids, mask, rows in _batches(encoded, range(len(texts)), 64, None):
            out[rows] = torch.softmax(model(ids, mask), dim=-1).numpy()
    return out


def export(model: Any) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray], float]:
    """Return the adapters by the base weight they change ({name: (A, B)}), the classifier, and alpha / r."""
    adapters, scale = {}, None
    prefix = "base_model.model."
    for name, module in model.encoder.named_modules():
        # the pooler is in the base model but not in the reading (mean pooling): its adapter would be dead weight
        if hasattr(module, "lora_A") and "default" in module.lora_A and ".pooler." not in name:
            a = module.lora_A["default"].weight.detach().numpy()
            b = module.lora_B["default"].weight.detach().numpy()
            adapters[name.removeprefix(prefix)] = (a, b)
            scale = float(module.scaling["default"])
    if not adapters or scale is None:
        raise ValueError("the model has no LoRA adapters to export")
    head = (model.out.weight.detach().numpy(), model.out.bias.detach().numpy())
    return adapters, head, scale


def _Model(encoder: Any, classes: int) -> Any:
    import torch

    class Model(torch.nn.Module):
        """MiniLM (with adapters), mean-pooled over the real tokens, then a linear layer: as problem_model reads."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.out = torch.nn.Linear(encoder.config.hidden_size, classes)
            self.tokenizer: Any = None

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            return self.out((hidden * m).sum(1) / m.sum(1))

    return Model()


def _batches(encoded: list[list[int]], rows: Any, size: int, rng: random.Random | None) -> Any:
    """Yield (ids, mask, rows) batches of similar lengths (little padding), in a shuffled order when `rng` is given."""
    import torch

    ordered = sorted(rows, key=lambda i: len(encoded[i]))
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        width = max(len(encoded[i]) for i in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for j, i in enumerate(chunk):
            ids[j, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[j, : len(encoded[i])] = 1
        yield ids, mask, chunk


def corpus(authors: dict[str, Path]) -> list[tuple[str, dict]]:
    """Return every (author, goal) of the corpora, in a fixed order."""
    return [(author, item) for author, path in authors.items() for item in load_items(path)]


def digest(goals: Sequence[tuple[str, dict]], settings: dict, labelled: Callable[[dict], Any] = label) -> str:
    """Name what a model was trained from: the goals' texts and labels (`labelled`), and the settings."""
    raw = json.dumps([[(a, g["id"], g["goal"], labelled(g)) for a, g in goals], settings], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def groups(authors: Sequence[str], k: int) -> dict[str, int]:
    """Deal the authors, in sorted order, into `k` groups (the folds of --cv)."""
    return {a: i % k for i, a in enumerate(sorted(set(authors)))}


def cross_validate(
    goals: list[tuple[str, dict]], base: Path, k: int, log: Callable[[str], None] = print, **kw: Any
) -> dict:
    """Return each goal's probabilities from the model trained without its author's group: {"groups", "readings":
    {author: {goal id: [p per class]}}}.
    """
    fold = groups([a for a, _ in goals], k)
    readings: dict[str, dict[str, list[float]]] = {}
    for g in range(k):
        train_rows = [i for i, (a, _) in enumerate(goals) if fold[a] != g]
        test_rows = [i for i, (a, _) in enumerate(goals) if fold[a] == g]
        log(f"fold {g + 1}/{k}: training on {len(train_rows)} goals, reading {len(test_rows)}")
        model = train(
            [goals[i][1]["goal"] for i in train_rows], [label(goals[i][1]) for i in train_rows], base, log=log, **kw
        )
        probs = predict(model, [goals[i][1]["goal"] for i in test_rows])
        for i, p in zip(test_rows, probs):
            author, item = goals[i]
            readings.setdefault(author, {})[item["id"]] = [round(float(x), 5) for x in p]
    return {"classes": list(CLASSES), "groups": fold, "readings": readings}


def start(argv: list[str] | None, description: str, out: Path) -> tuple[argparse.Namespace, list] | int:
    """Parse a model-training command's arguments (this one's and train_role_model's, which take the same) and load
    the corpus: (args, goals), or the exit code after a one-line error.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--cv", type=int, default=0, help="leave author groups out: this many folds")
    parser.add_argument("--cv-out", type=Path, help="where --cv writes the out-of-fold readings (JSON)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.cv and args.cv_out is None:
        print("error: --cv needs --cv-out FILE, where the out-of-fold readings go", file=sys.stderr)
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return args, corpus(AUTHORS)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def write_readings(path: Path, readings: dict) -> None:
    """Write out-of-fold readings whole or not at all, compact: 3,000 goals' readings in about 150 KB."""
    from tools.atomic import atomic_open

    with atomic_open(path) as fh:
        json.dump(readings, fh, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    """Train on every author but the untouched one and write the adapters, or with --cv write out-of-fold readings."""
    started = start(argv, __doc__.split("\n\n")[0], Path(__file__).with_name("problem_model.npz"))
    if isinstance(started, int):
        return started
    args, goals = started
    settings = {"epochs": args.epochs, "rank": RANK, "lr": LEARNING_RATE, "max_length": MAX_LENGTH}
    if args.cv:
        done = cross_validate(goals, problem_model.base_folder(), args.cv, epochs=args.epochs)
        write_readings(args.cv_out, {**done, "settings": settings, "trained_from": digest(goals, settings)})
        print(f"wrote out-of-fold readings of {len(goals)} goals ({args.cv} author groups) to {args.cv_out}")
        return 0
    model = train(
        [g["goal"] for _, g in goals], [label(g) for _, g in goals], problem_model.base_folder(), epochs=args.epochs
    )
    adapters, head, scale = export(model)
    meta = {"classes": list(CLASSES), "r": RANK, "alpha": scale * RANK, "max_length": MAX_LENGTH, **settings,
            "trained_from": digest(goals, settings), "authors": sorted({a for a, _ in goals})}  # fmt: skip
    problem_model.save(args.out, adapters, head, meta)
    print(f"trained on {len(goals)} goals by {len(meta['authors'])} authors; wrote {args.out}")
    print(f"not trained on: {UNTOUCHED[0]}, the untouched set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
