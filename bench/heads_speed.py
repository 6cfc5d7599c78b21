#!/usr/bin/env python3
"""The claim heads of one training round (attribute columns, then the words of two text columns; every fold and view),
timed on random inputs of the shipped shapes: the inputs' reduction fitted by each heads, against fitted once and shared.

    python bench/heads_speed.py [--n 1000 3000] [--repeats 3]

Inputs per view as `attributes.photo_inputs` makes them from the offline towers (1,280 tower, 49 x 6 colour, 296
palette, 744 earlier-stage inputs), two views, three folds; 16 columns of 20 classes (the slots of a title) and two text
columns of 300 words. The two ways alternate, `repeats` times each, and the word heads they train are compared: the
same weights, so the shared reduction is only time saved. Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmaudit.config import TrainConfig
from mmaudit.models.words import MEMBERS as WORD_MEMBERS
from mmaudit.train import fit_heads

INPUTS = {"photo": 1280, "colour": 49 * 6, "palette": 296, "detail": 744}
COLUMNS, CLASSES, WORDS = 16, 20, 300


def round_of_heads(x: dict, labels: dict, words: dict, folds: np.ndarray, shared: bool) -> tuple[float, list]:
    """Seconds to fit the attribute heads and the word heads of one round, and the word heads."""
    config, dims, none_left_out = TrainConfig(), {"photo": INPUTS["photo"], "detail": INPUTS["detail"]}, np.zeros(0, np.int64)
    reductions = {} if shared else None
    start = time.perf_counter()
    fit_heads(config, x, dims, labels, {c: CLASSES for c in labels}, folds, none_left_out, reductions=reductions)
    word_heads = fit_heads(config, x, dims, words, {c: WORDS for c in words}, folds, none_left_out, frozenset(words),
                           WORD_MEMBERS, reductions)
    return time.perf_counter() - start, word_heads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print("| products | reduction | seconds (each run) | best | best, per 1,000 products |")
    print("|---|---|---|---|---|")
    for n in a.n:
        rng = np.random.default_rng(0)
        x = {view: rng.standard_normal((n, sum(INPUTS.values())), dtype=np.float32) for view in ("whole", "product")}
        labels = {f"slot {k}": rng.integers(-1, CLASSES, n) for k in range(COLUMNS)}
        words = {column: (rng.random((n, WORDS)) < 0.02).astype(np.int64) for column in ("title", "description")}
        folds = np.arange(n) % 3
        times: dict[str, list[float]] = {"per heads": [], "shared": []}
        heads = {}
        for _ in range(a.repeats):
            for way in times:
                seconds, heads[way] = round_of_heads(x, labels, words, folds, way == "shared")
                times[way].append(seconds)
        same = all(np.array_equal(p.log_probs(x)["title"], s.log_probs(x)["title"]) for p, s in zip(heads["per heads"], heads["shared"]))
        for way, runs in times.items():
            print(f"| {n} | {way} | {', '.join(f'{t:.1f}' for t in runs)} | {min(runs):.1f} | {1000 * min(runs) / n:.1f} |")
        print(f"| {n} | shared / per heads | | {min(times['shared']) / min(times['per heads']):.3f} | word heads the same: {same} |",
              flush=True)


if __name__ == "__main__":
    main()
