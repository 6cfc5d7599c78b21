#!/usr/bin/env python3
"""Four savings of `mmaudit train` against the way before, on random inputs of the shipped shapes
(docs/decisions/2026-12-02-train-work-done-once.md):

1. the claim heads of one round (attribute columns, then the words of two text columns; every fold and view) with the
   inputs' reduction fitted by each heads, against fitted once and shared;
2. the same heads with the plain AdamW (element by element, a dozen passes over the weights) against the fused one
   (one pass; `head_fitting.fit_stacked`);
3. the weightings' fit (`train.stack`): each refit from zero, against from where the last fit ended;
4. the same fit with its Newton curvature summed as x' (w x), against as (sqrt(w) x)' (sqrt(w) x), a matrix by its own
   transpose, of which numpy computes half (`metrics.curvature`);
5. the same fit with every Newton step's curvature computed anew and the columns' spreads by numpy's std 64 columns at
   a time, against the curvature kept after a small step (`metrics.CURVATURE_KEPT_BELOW`) and the spreads summed a
   block of rows at a time (`metrics.column_spreads`).

    python bench/train_savings.py [--n 1000 3000] [--repeats 3] [--pairs 48000] [--claims 400]

Inputs per view as `features.photo_inputs` lays them out from the offline towers (1,280 tower, 49 x 6 colour, 296
palette, 744 earlier-stage inputs), two views, three folds; 16 columns of 20 classes (the slots of a title) and two text
columns of 300 words. The three ways (reduction per heads and plain AdamW, the way before both; shared and plain;
shared and fused, as shipped) alternate, `repeats` times each, and the word heads they train are compared: the same
weights (the fused optimizer's to float rounding), so both are only time saved. The stacking: a pair model's logit
and `claims` costs of `pairs` pairs, a third of them matches, each claim stated by 3% of the texts; the weights of both
ways are compared.
Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np
import torch

from mmaudit import metrics, train
from mmaudit.config import TrainConfig
from mmaudit.models.words import MEMBERS as WORD_MEMBERS
from mmaudit.train import fit_heads, stack

INPUTS = {"photo": 1280, "colour": 49 * 6, "palette": 296, "detail": 744}
COLUMNS, CLASSES, WORDS = 16, 20, 300


WAYS = {"reduction per heads, plain AdamW": (False, False), "shared, plain AdamW": (True, False), "shared, fused AdamW": (True, True)}


@contextmanager
def adamw(fused: bool):
    """The claim heads' AdamW fused (as shipped) or plain."""
    shipped = torch.optim.AdamW
    torch.optim.AdamW = lambda params, **kw: shipped(params, **{**kw, "fused": fused})
    try:
        yield
    finally:
        torch.optim.AdamW = shipped


def round_of_heads(x: dict, labels: dict, words: dict, folds: np.ndarray, shared: bool, fused: bool) -> tuple[float, list]:
    """Seconds to fit the attribute heads and the word heads of one round, and the word heads."""
    config, dims, none_left_out = TrainConfig(), {"photo": INPUTS["photo"], "detail": INPUTS["detail"]}, np.zeros(0, np.int64)
    reductions = {} if shared else None
    with adamw(fused):
        start = time.perf_counter()
        fit_heads(config, x, dims, labels, {c: CLASSES for c in labels}, folds, none_left_out, reductions=reductions)
        word_heads = fit_heads(config, x, dims, words, {c: WORDS for c in words}, folds, none_left_out, frozenset(words),
                               WORD_MEMBERS, reductions)
        return time.perf_counter() - start, word_heads


def stack_from_zero(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """`train.stack` as it was: every refit from zero (`x`: the pair model's logit, then each claim's cost)."""
    spread = x.std(0) + 1e-9
    active = np.ones(x.shape[1], dtype=bool)
    while True:
        fitted = metrics.fit_logistic(x[:, active] / spread[active], labels, ridge=1e-3 * len(x))
        if (fitted[:-1] >= 0).all():
            break
        active[np.flatnonzero(active)[fitted[:-1] < 0]] = False
    weights = np.zeros(x.shape[1])
    weights[active] = fitted[:-1] / spread[active]
    return weights, float(fitted[-1])


@contextmanager
def weighted_product_curvature():
    """`metrics.curvature` as it was: x' (w x), the whole product."""
    shipped = metrics.curvature

    def before(x: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[1] + 1, x.shape[1] + 1))
        for start in range(0, len(x), metrics.NEWTON_ROWS):
            rows, weights = x[start:start + metrics.NEWTON_ROWS], row_weights[start:start + metrics.NEWTON_ROWS]
            out[:-1, :-1] += rows.T @ (rows * weights[:, None])
        out[:-1, -1] = out[-1, :-1] = x.T @ row_weights
        out[-1, -1] = row_weights.sum()
        return out

    metrics.curvature = before
    try:
        yield
    finally:
        metrics.curvature = shipped


@contextmanager
def every_step_its_curvature():
    """`train.stack` as it was before the curvature was kept near the minimum: each Newton step its own curvature,
    the columns' spreads by numpy's std, 64 columns at a time."""
    kept_below, spreads = metrics.CURVATURE_KEPT_BELOW, train.column_spreads
    metrics.CURVATURE_KEPT_BELOW = 0.0
    train.column_spreads = lambda x: np.concatenate([x[:, c:c + 64].std(0) for c in range(0, x.shape[1], 64)])
    try:
        yield
    finally:
        metrics.CURVATURE_KEPT_BELOW, train.column_spreads = kept_below, spreads


def from_zero_as_before(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    with every_step_its_curvature():
        return stack_from_zero(x, labels)


def curvature_as_before(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    with weighted_product_curvature(), every_step_its_curvature():
        return stack(x, labels)


def each_step_as_before(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    with every_step_its_curvature():
        return stack(x, labels)


def newton_steps(fit, *args) -> tuple[float, int, tuple]:
    """Seconds, Newton steps taken (one linear solve each, every fit's together) and the result of `fit(*args)`."""
    solves, solve = [], np.linalg.solve
    np.linalg.solve = lambda *system: solves.append(1) or solve(*system)
    try:
        start = time.perf_counter()
        result = fit(*args)
        return time.perf_counter() - start, len(solves), result
    finally:
        np.linalg.solve = solve


def stacking_inputs(pairs: int, claims: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pair model's logits, `claims` costs and the labels of `pairs` pairs, a third of them matches, each claim stated
    by 3% of the texts."""
    rng = np.random.default_rng(0)
    labels = (rng.random(pairs) < 2 / 3).astype(np.int64)  # 1: a mismatch
    logits = rng.normal(size=pairs) + 2.5 * (labels - 0.5)
    stated = rng.random((pairs, claims)) < 0.03
    effect = rng.normal(0, 0.6, claims)  # a claim's cost rises with a mismatch, or falls (its weight would be negative)
    costs = np.where(stated, np.abs(rng.normal(size=(pairs, claims))) * 0.5 + np.outer(labels, effect).clip(0), 0.0)
    return logits, costs, labels


def stacking(pairs: int, claims: int, repeats: int) -> None:
    logits, costs, labels = stacking_inputs(pairs, claims)
    print("\n| stacking | seconds (each run) | best | Newton steps |")
    print("|---|---|---|---|")
    results, best = {}, {}
    ways = (("refits from zero", from_zero_as_before), ("refits from the last fit, curvature x' (w x)", curvature_as_before),
            ("refits from the last fit", each_step_as_before), ("curvature kept near the minimum", stack))
    for _ in range(repeats):
        for way, fit in ways:
            seconds, steps, results[way] = newton_steps(fit, np.column_stack([logits, costs]), labels)  # `stack` overwrites it
            best.setdefault(way, []).append((seconds, steps))
    for way, runs in best.items():
        print(f"| {way} | {', '.join(f'{t:.1f}' for t, _ in runs)} | {min(t for t, _ in runs):.1f} | {runs[0][1]} |")
    for later, earlier in zip([w for w, _ in ways[1:]], [w for w, _ in ways[:-1]]):
        (a, a_bias), (b, b_bias) = results[earlier], results[later]
        ratio = min(t for t, _ in best[later]) / min(t for t, _ in best[earlier])
        print(f"| {later} / {earlier} | | {ratio:.3f} | largest weight difference {max(np.abs(a - b).max(), abs(a_bias - b_bias)):.1e} |",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="*", default=[1000, 3000], help="catalog sizes of the heads (none: only the stacking)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=48_000)
    ap.add_argument("--claims", type=int, default=400)
    a = ap.parse_args()
    print("| products | reduction | seconds (each run) | best | best, per 1,000 products |")
    print("|---|---|---|---|---|")
    for n in a.n:
        rng = np.random.default_rng(0)
        x = {view: rng.standard_normal((n, sum(INPUTS.values())), dtype=np.float32) for view in ("whole", "product")}
        labels = {f"slot {k}": rng.integers(-1, CLASSES, n) for k in range(COLUMNS)}
        words = {column: (rng.random((n, WORDS)) < 0.02).astype(np.int64) for column in ("title", "description")}
        folds = np.arange(n) % 3
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        heads = {}
        for _ in range(a.repeats):
            for way, (shared, fused) in WAYS.items():
                seconds, heads[way] = round_of_heads(x, labels, words, folds, shared, fused)
                times[way].append(seconds)
        for way, runs in times.items():
            print(f"| {n} | {way} | {', '.join(f'{t:.1f}' for t in runs)} | {min(runs):.1f} | {1000 * min(runs) / n:.1f} |")
        before, plain, fused = (heads[way] for way in WAYS)
        same = all(np.array_equal(b.log_probs(x)["title"], p.log_probs(x)["title"]) for b, p in zip(before, plain))
        apart = max(float(np.abs(p.log_probs(x)["title"] - f.log_probs(x)["title"]).max()) for p, f in zip(plain, fused))
        best = {way: min(runs) for way, runs in times.items()}
        print(f"| {n} | shared / per heads | | {best['shared, plain AdamW'] / best['reduction per heads, plain AdamW']:.3f} | "
              f"word heads the same: {same} |")
        print(f"| {n} | fused / plain | | {best['shared, fused AdamW'] / best['shared, plain AdamW']:.3f} | "
              f"word heads' log-probabilities apart by at most {apart:.1e} |", flush=True)
    stacking(a.pairs, a.claims, a.repeats)


if __name__ == "__main__":
    main()
