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


def fit_platt(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> tuple[float, float]:
    """a, b such that sigmoid(a * logit + b) is a calibrated probability (Newton on the log loss)."""
    x = np.stack([logits, np.ones_like(logits)], 1).astype(np.float64)
    w = np.array([1.0, 0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - labels)
        hess = x.T @ (x * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float, rate: float) -> float:
    """Lowest score threshold whose precision, reweighted to a catalog with `rate` mismatches, reaches `target`."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tpr = np.cumsum(y) / max(y.sum(), 1)
    fpr = np.cumsum(1 - y) / max((1 - y).sum(), 1)
    precision = rate * tpr / np.maximum(rate * tpr + (1 - rate) * fpr, 1e-12)
    ok = np.flatnonzero(precision >= target)
    return float(s[ok.max()]) if len(ok) else float(s[0])
