"""The product's score and the flag threshold, without labels.

A product's score adds two signals, each in units of its own spread over the catalog: its own photo's misfit (the fit
weighting) and the gain of its exchange (`exchanges`). The threshold is chosen from photos exchanged on purpose: a
logistic model learns to tell those from the catalog as it is, and the share of mismatches is read from the catalog.
"""

from __future__ import annotations

import numpy as np

from .exchanges import exchange_gain
from .metrics import fit_logistic, mismatch_shares, robust_scale, sigmoid, threshold_for_precision
from .models.judge import CatalogJudge


def simulate_swaps(judge: CatalogJudge, cands: np.ndarray, own: np.ndarray, photo_candidates: int, count: int,
                   seed: int = 0, far: bool = False) -> np.ndarray:
    """[fit logit, gain] of products whose photos we exchange on purpose with a similar product's (one of its
    `photo_candidates` photo look-alikes) or, `far`, with any other product's.

    The gain of exchanging back uses the known partner: a lower bound of what the real search finds."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(own), size=min(count, len(own)), replace=False)
    if far:
        partners = (rows + rng.integers(1, max(len(own), 2), size=len(rows))) % len(own)
    else:
        partners = cands[rows, rng.integers(0, photo_candidates, size=len(rows))]
    real = (partners >= 0) & (partners != rows)
    rows, partners = rows[real], partners[real]
    pair_logits = judge.pair_model_logits(rows, partners)  # text i with photo j, weighed both ways
    gain_back = exchange_gain(judge.weighed(pair_logits, rows, partners), judge.logits(partners, rows), own[rows], own[partners])
    return np.stack([judge.weighed(pair_logits, rows, partners, "fit"), gain_back], 1)


def robust_scales(pair_logit: np.ndarray, gain: np.ndarray) -> list[tuple[float, float]]:
    """Median and spread (interquartile range / 1.349: the standard deviation for a normal distribution) of each
    signal over the catalog. The gains are skewed: their lower quartile sits next to the median (the many products
    with no good exchange) and their upper quartile far from it: the median absolute deviation would follow the narrow
    side, and the gain's weight in the sum would change from catalog to catalog (docs/decisions/2026-11-30-robust-spread.md)."""
    return [robust_scale(pair_logit), robust_scale(gain)]


def combine(pair_logit: np.ndarray, gain: np.ndarray, scales: list[tuple[float, float]]) -> np.ndarray:
    """One number per product: the evidence of both signals, each in units of its own spread over the
    catalog (a product's misfit alone finds a handbag's photo on a shirt; the exchange gain finds two
    similar products with each other's photo). A product with no candidate gets an unremarkable gain."""
    (pc, ps), (gc, gs) = scales
    gain = np.where(np.isfinite(gain), gain, gc)
    return (pair_logit - pc) / ps + (gain - gc) / gs


def calibrate(observed: np.ndarray, simulated: dict[str, np.ndarray], target_precision: float, max_share: float) -> dict:
    """Map the combined logit to a probability and pick the flag threshold, without labels. The map tells simulated
    exchanges (`simulated`: per kind, highest-scoring first) from the catalog as it is; it is monotonic, so it never
    changes the ranking. The threshold is the lowest whose flags are, by estimate, `target_precision` mismatches, at
    the shares of each kind of mismatch estimated from the catalog itself (`metrics.mismatch_shares`, in all at most
    `max_share`): an assumed share flags far too few or too many (docs/decisions/2026-11-30-estimated-mismatch-share.md)."""
    every = np.concatenate(list(simulated.values()))
    x = np.concatenate([observed, every])[:, None]
    y = np.concatenate([np.zeros(len(observed)), np.ones(len(every))])
    a, b = fit_logistic(x, y)
    a = max(a, 1e-6)  # keep it increasing even if the simulation is uninformative
    estimated = dict(zip(simulated, mismatch_shares(observed, list(simulated.values()))))
    scale = min(1.0, max_share / max(sum(estimated.values()), 1e-12))
    shares = {kind: share * scale for kind, share in estimated.items()}
    threshold = threshold_for_precision(sigmoid(a * observed + b), [sigmoid(a * v + b) for v in simulated.values()],
                                        list(shares.values()), target_precision)
    return {"method": "simulated-exchanges", "a": float(a), "b": float(b), "threshold": threshold,
            "simulated": {kind: int(len(v)) for kind, v in simulated.items()}, "target_precision": target_precision,
            "estimated_mismatch_share": sum(estimated.values()), "estimated_shares": estimated,
            "mismatch_share": sum(shares.values()), "max_mismatch_share": max_share}
