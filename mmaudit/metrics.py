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


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float, rate: float) -> float:
    """Lowest score threshold whose precision, reweighted to a catalog with `rate` mismatches, reaches `target`."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tpr = np.cumsum(y) / max(y.sum(), 1)
    fpr = np.cumsum(1 - y) / max((1 - y).sum(), 1)
    precision = rate * tpr / np.maximum(rate * tpr + (1 - rate) * fpr, 1e-12)
    ok = np.flatnonzero(precision >= target)
    return float(s[ok.max()]) if len(ok) else float(s[0])
