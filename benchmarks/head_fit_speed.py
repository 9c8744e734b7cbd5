"""How long one head of the reader takes to fit: the words' columns kept sparse (train_heads.fit) against the same
loss over the dense matrix (how fit read it before), side by side in one run, on features shaped like the corpus's.

    python benchmarks/head_fit_speed.py [--goals 2700] [--words 11000] [--threads 1]

A leave-one-author-out run fits six heads per author (about 250 fits over 43 authors), so a head's fit is most of
its hour. The shape: about 840 dense features (two sentence vectors, the rules' readings, the bank) and a lexicon of
some ten thousand words and pairs, of which a goal uses a few dozen, long-tailed (a few words in most goals, most
words in three). Both fits run the same L-BFGS from zero; the script prints each time, the ratio, and how far the
two heads' probabilities are apart (they minimise the same loss).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.interviewer import heads as H  # noqa: E402
from agent.interviewer import train_heads as T  # noqa: E402


def features(goals: int, words: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return corpus-shaped features and four-class targets that depend on a few dense and word columns."""
    rng = np.random.default_rng(seed)
    dense = 2 * H.DIM + 70
    x = np.zeros((goals, dense + words), np.float32)
    x[:, :dense] = rng.standard_normal((goals, dense)).astype(np.float32)
    popularity = 1.0 / np.arange(1, words + 1)  # Zipf: a few words everywhere, most rare
    popularity /= popularity.sum()
    for i in range(goals):
        used = rng.choice(words, size=rng.integers(20, 80), replace=False, p=popularity)
        x[i, dense + used] = rng.random(len(used)).astype(np.float32)
        x[i, dense:] /= np.linalg.norm(x[i, dense:])
    signal = x[:, 0] + 3 * x[:, dense + 5] - 3 * x[:, dense + 9] + 0.5 * rng.standard_normal(goals)
    y = np.digitize(signal, np.quantile(signal, [0.25, 0.5, 0.75]))
    return x, y


def dense_fit(x: np.ndarray, y: np.ndarray, classes: tuple, words: int) -> H.Head:
    """Fit a head on the same loss as train_heads.fit, over the dense matrix."""
    import torch

    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    mean[-words:], scale[-words:] = 0.0, 1.0
    xs = torch.tensor((x - mean) / scale, dtype=torch.float64)
    ys = torch.tensor(y, dtype=torch.long)
    w = torch.zeros((len(classes), x.shape[1]), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, line_search_fn="strong_wolfe")
    ridge = torch.full((x.shape[1],), T.L2 * T.GOAL_RIDGE, dtype=torch.float64)
    ridge[: 2 * H.DIM] *= T.VECTOR_RIDGE
    ridge[-words:] = T.LEX_RIDGE

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(xs @ w.T + b, ys, reduction="sum") + (ridge * w * w).sum()
        value.backward()
        return value

    opt.step(loss)
    return H.Head(classes, w.detach().numpy(), b.detach().numpy(), mean, scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--goals", type=int, default=2700)
    parser.add_argument("--words", type=int, default=11000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a benchmark fold gets one per job)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    x, y = features(args.goals, args.words)
    classes = ("a", "b", "c", "d")
    start = time.perf_counter()
    old = dense_fit(x, y, classes, args.words)
    dense_s = time.perf_counter() - start
    start = time.perf_counter()
    new = T.fit(x, y, classes, T.L2 * T.GOAL_RIDGE, 2 * H.DIM, None, args.words)
    sparse_s = time.perf_counter() - start
    apart = max(float(np.abs(old.probabilities(row) - new.probabilities(row)).max()) for row in x[:500])
    load = os.getloadavg()[0]
    print(
        f"{args.goals} goals, {x.shape[1] - args.words} dense features, {args.words} words, "
        f"{args.threads} thread(s); load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(f"  dense matrix : {dense_s:6.1f} s")
    print(f"  sparse words : {sparse_s:6.1f} s   ({dense_s / sparse_s:.1f}x faster)")
    print(f"  largest difference in a probability between the two heads: {apart:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
