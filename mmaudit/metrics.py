"""Ranking figures and calibration, on plain arrays."""

from __future__ import annotations

import numpy as np


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise), labels 1 = positive class."""
    order = np.argsort(-scores, kind="stable")
    y = labels[order]
    if y.sum() == 0:
        return 0.0
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    return float((precision * y).sum() / y.sum())


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


NEWTON_ROWS = 4096  # rows per step of the curvature's sum: its weighted copy of the features is this many rows, not all
CURVATURE_KEPT_BELOW = 1e-3  # after a Newton step no weight of which moved this far, the next step reuses its curvature


def fit_logistic(features: np.ndarray, labels: np.ndarray, steps: int = 100, ridge: float = 1e-4,
                 start: np.ndarray | None = None) -> np.ndarray:
    """Weights (then bias) of a logistic regression, by Newton's method on the log loss with balanced classes and a
    ridge, from `start` (weights then bias; zeros by default). A step that would raise the loss is halved until it
    does not (a full step can overshoot from a far start), so every start ends at the one minimum; a near start, in
    fewer steps. `features` are read as they are (float64: not copied), the curvature summed `NEWTON_ROWS` rows at a
    time: the weightings fit hundreds of claims' costs on up to 200,000 pairs, and each copy of them is a gigabyte.
    Near the minimum the curvature barely changes from step to step: after a step under `CURVATURE_KEPT_BELOW` the
    next reuses it (the gradient, computed anew, says where the fit ends: the weightings' weights on the shared
    catalog's pairs move by 1e-13 with 61 curvatures instead of 85, bench/train_savings.py), and the logits of the
    step's line search are those of the next step."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64)
    balance = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    w = np.zeros(x.shape[1] + 1) if start is None else np.array(start, np.float64)

    def logits(weights: np.ndarray) -> np.ndarray:
        return x @ weights[:-1] + weights[-1]

    def loss(weights: np.ndarray, z: np.ndarray) -> float:
        return float(balance @ np.logaddexp(0.0, np.where(y == 1, -z, z)) + 0.5 * ridge * weights @ weights)

    z = logits(w)
    current, hessian, moved = loss(w, z), None, np.inf
    for _ in range(steps):
        p = sigmoid(z)
        grad = np.append(x.T @ (balance * (p - y)), balance @ (p - y)) + ridge * w
        if hessian is None or moved >= CURVATURE_KEPT_BELOW:
            hessian = curvature(x, balance * p * (1 - p)) + ridge * np.eye(len(w))
        step = np.linalg.solve(hessian, grad)
        for _ in range(60):
            z = logits(w - step)
            after = loss(w - step, z)
            if after <= current + 1e-12 * abs(current):
                break
            step = step / 2
        w -= step
        current, moved = after, np.abs(step).max()
        if moved < 1e-9:
            break
    return w


def curvature(x: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
    """[x 1]' diag(row_weights) [x 1] (the bias's column of ones last), `NEWTON_ROWS` rows at a time; the row weights are
    not negative (a logistic fit's p (1 - p) times its class balance). The products of x's columns are summed in
    float32 (half the time of float64): Newton's step needs the curvature only to point the way, the gradient in
    float64 says where the fit ends, so the fit ends where it did (the weightings' weights of the shared catalog
    equal to 1e-14)."""
    width = x.shape[1]
    products = np.zeros((width, width), np.float32)
    rows = np.empty((NEWTON_ROWS, width), np.float32)
    for start in range(0, len(x), NEWTON_ROWS):
        block = rows[:min(NEWTON_ROWS, len(x) - start)]
        np.multiply(x[start:start + NEWTON_ROWS], np.sqrt(row_weights[start:start + NEWTON_ROWS])[:, None], out=block, casting="same_kind")
        products += block.T @ block  # a matrix by its own transpose: numpy computes half (BLAS syrk)
    out = np.zeros((width + 1, width + 1))
    out[:-1, :-1] = products
    out[:-1, -1] = out[-1, :-1] = x.T @ row_weights
    out[-1, -1] = row_weights.sum()
    return out


def column_spreads(x: np.ndarray) -> np.ndarray:
    """Each column's standard deviation, from the column means and the squared distances to them summed `NEWTON_ROWS`
    rows at a time: no copy of `x` (a gigabyte at the weightings' size), its rows read in order (numpy's std of a few
    columns at a time reads them strided, 2.3x as long)."""
    mean = x.mean(0)
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), NEWTON_ROWS):
        apart = x[start:start + NEWTON_ROWS] - mean
        squares += np.einsum("ij,ij->j", apart, apart)
    return np.sqrt(squares / max(len(x), 1))


SHARE_FLOOR = 0.1  # a kind's share is read only where at least this share of its simulated mismatches score higher


def _tail(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The share of `scores` at or above each threshold."""
    return 1 - np.searchsorted(np.sort(scores), thresholds, side="left") / max(len(scores), 1)


def mismatch_shares(observed: np.ndarray, simulated: list[np.ndarray], floor: float = SHARE_FLOOR) -> list[float]:
    """The share of each kind of mismatch in a catalog, from its scores and those of mismatches of each kind made on
    purpose (`simulated`, the highest-scoring kind first: an unrelated product's photo, then a look-alike's).

    The catalog is a mixture of right products and mismatches of each kind, which score like their simulated ones.
    So above any threshold the catalog holds at least share_k x kind k's simulated share above it, and the smallest
    ratio bounds the share from above; it is close to it where few right products score that high. Each kind is read
    on what the kinds before it leave: one kind alone overestimates the share of a catalog whose mismatches score
    higher than it (docs/decisions/2026-11-30-estimated-mismatch-share.md)."""
    thresholds = np.sort(np.asarray(observed, np.float64))[::-1]
    observed_tail = np.arange(1, len(thresholds) + 1) / max(len(thresholds), 1)
    left, shares = observed_tail.copy(), []
    for scores in simulated:
        tail = _tail(scores, thresholds)
        usable = tail >= floor
        share = float(np.clip((left[usable] / tail[usable]).min(), 0.0, 1.0)) if usable.any() and len(scores) else 0.0
        shares.append(share)
        left = left - share * tail
    return shares


def threshold_for_precision(observed: np.ndarray, simulated: list[np.ndarray], shares: list[float], target: float) -> float:
    """Lowest threshold at which, by estimate, at least `target` of the catalog's products above it are mismatches:
    of the share of the catalog above it, the sum over kinds of share_k x kind k's simulated share above it are. Above
    the highest score (flags nothing) when no threshold reaches the target."""
    thresholds = np.sort(np.asarray(observed, np.float64))[::-1]
    if len(thresholds) == 0:
        return float("inf")
    observed_tail = np.arange(1, len(thresholds) + 1) / len(thresholds)
    mismatched = sum(share * _tail(scores, thresholds) for share, scores in zip(shares, simulated))
    reached = np.flatnonzero(mismatched / observed_tail >= target)
    return float(thresholds[reached.max()]) if len(reached) else float(np.nextafter(thresholds[0], np.inf))


def robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and interquartile range / 1.349 of the finite values."""
    finite = values[np.isfinite(values)]
    centre = float(np.median(finite)) if len(finite) else 0.0
    spread = float(np.subtract(*np.percentile(finite, [75, 25])) / 1.349) if len(finite) else 1.0
    return centre, max(spread, 1e-6)
