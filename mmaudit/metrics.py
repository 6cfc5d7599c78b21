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


def fit_logistic(features: np.ndarray, labels: np.ndarray, steps: int = 100, ridge: float = 1e-4) -> np.ndarray:
    """Weights (then bias) of a logistic regression, by Newton's method on the log loss with balanced classes."""
    x = np.concatenate([np.asarray(features, np.float64), np.ones((len(features), 1))], 1)
    y = np.asarray(labels, np.float64)
    balance = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = sigmoid(x @ w)
        grad = x.T @ (balance * (p - y)) + ridge * w
        hess = x.T @ (x * (balance * p * (1 - p))[:, None]) + ridge * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


SHARE_FLOOR = 0.1  # the share is read only where at least this share of the simulated mismatches score higher (200 of 2,000)


def _tails(observed: np.ndarray, simulated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every observed score as a threshold, highest first, with the share of the observed and of the simulated
    scores at or above it."""
    thresholds = np.sort(np.asarray(observed, np.float64))[::-1]
    observed_tail = np.arange(1, len(thresholds) + 1) / max(len(thresholds), 1)
    simulated_tail = 1 - np.searchsorted(np.sort(simulated), thresholds, side="left") / max(len(simulated), 1)
    return thresholds, observed_tail, simulated_tail


def mismatch_share(observed: np.ndarray, simulated: np.ndarray, floor: float = SHARE_FLOOR) -> float:
    """The share of mismatches in a catalog, from its scores and those of mismatches made on purpose (simulated).
    The catalog is a mixture: (1 - share) right products and share mismatches, which score like the simulated ones.
    So above any threshold the catalog holds at least share x the simulated share above it, and the smallest ratio
    of the two bounds the share from above; it is close to the share where few right products score that high."""
    if len(observed) == 0 or len(simulated) == 0:
        return 1.0
    _, observed_tail, simulated_tail = _tails(observed, simulated)
    usable = simulated_tail >= floor
    return float(min(1.0, (observed_tail[usable] / simulated_tail[usable]).min())) if usable.any() else 1.0


def threshold_for_precision(observed: np.ndarray, simulated: np.ndarray, share: float, target: float) -> float:
    """Lowest threshold at which, by estimate, at least `target` of the catalog's products above it are mismatches:
    of the share of the catalog above it, share x the simulated share above it are. Above the highest score (flags
    nothing) when no threshold reaches the target."""
    thresholds, observed_tail, simulated_tail = _tails(observed, simulated)
    if len(thresholds) == 0:
        return float("inf")
    precision = share * simulated_tail / observed_tail
    reached = np.flatnonzero(precision >= target)
    return float(thresholds[reached.max()]) if len(reached) else float(np.nextafter(thresholds[0], np.inf))
