"""The flag threshold: the share of mismatches is read from the catalog's own scores, and the flags reach the target."""

from __future__ import annotations

import numpy as np
import pytest

from mmaudit.metrics import mismatch_share, sigmoid, threshold_for_precision
from mmaudit.score import calibrate


def mixture(share: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of a catalog with `share` mismatches (right products ~ N(0, 1), mismatches ~ N(4, 1)), which are
    mismatched, and 2,000 simulated mismatches."""
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < share
    return np.where(bad, rng.normal(4, 1, n), rng.normal(0, 1, n)), bad, rng.normal(4, 1, 2000)


@pytest.mark.parametrize("share", [0.02, 0.1, 0.3])
def test_the_share_of_mismatches_is_read_from_the_scores_and_the_flags_reach_the_target(share):
    observed, bad, simulated = mixture(share)
    estimated = mismatch_share(observed, simulated)
    assert abs(estimated - bad.mean()) < 0.2 * bad.mean()  # close where few right products score as high as mismatches
    flagged = observed >= threshold_for_precision(observed, simulated, estimated, 0.5)
    assert bad[flagged].mean() >= 0.5 * 0.9
    assert bad[flagged].sum() / bad.sum() > 0.9  # an assumed share of 5% flagged few at 10% and 30%


def test_the_calibrated_probability_keeps_the_order_and_a_cap_bounds_the_share():
    observed, bad, simulated = mixture(0.3)
    capped = calibrate(observed, simulated, 0.5, max_share=0.1)
    assert capped["mismatch_share"] == 0.1 and capped["estimated_mismatch_share"] > 0.25
    probability = sigmoid(capped["a"] * observed + capped["b"])
    assert np.all(np.diff(probability[np.argsort(observed)]) >= 0)
    free = calibrate(observed, simulated, 0.5, max_share=1.0)
    assert (probability >= free["threshold"]).sum() > (probability >= capped["threshold"]).sum()


def test_a_model_that_cannot_tell_simulated_mismatches_flags_almost_nothing():
    rng = np.random.default_rng(1)
    observed, simulated = rng.normal(0, 1, 20_000), rng.normal(0, 1, 2000)
    assert mismatch_share(observed, simulated) > 0.8  # nothing rules out that all are mismatched...
    cal = calibrate(observed, simulated, 0.5, max_share=0.2)  # ...so the cap decides
    assert (sigmoid(cal["a"] * observed + cal["b"]) >= cal["threshold"]).mean() < 0.002


def test_no_threshold_reaching_the_target_flags_nothing():
    observed, simulated = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])
    assert threshold_for_precision(observed, simulated, 0.1, 0.5) > 2.0
