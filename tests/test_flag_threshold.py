"""The flag threshold: the share of each kind of mismatch is read from the catalog's own scores, and the flags reach
the target precision."""

from __future__ import annotations

import numpy as np
import pytest

from mmaudit.metrics import mismatch_shares, sigmoid, threshold_for_precision
from mmaudit.flag_threshold import calibrate


def mixture(far: float, look: float, n: int = 20_000, seed: int = 0):
    """Scores of a catalog with a share `far` of unrelated photos (~ N(8, 1)) and `look` of look-alikes' (~ N(4, 1)),
    right products ~ N(0, 1); which are mismatched; and 2,000 simulated mismatches of each kind, far first."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[1 - far - look, far, look])
    observed = np.select([kind == 1, kind == 2], [rng.normal(8, 1, n), rng.normal(4, 1, n)], rng.normal(0, 1, n))
    return observed, kind > 0, [rng.normal(8, 1, 2000), rng.normal(4, 1, 2000)]


@pytest.mark.parametrize("far, look", [(0.0, 0.02), (0.0, 0.1), (0.0, 0.3), (0.1, 0.0), (0.02, 0.0), (0.05, 0.05)])
def test_each_kind_of_mismatch_is_read_from_the_scores_and_the_flags_reach_the_target(far, look):
    observed, bad, simulated = mixture(far, look)
    shares = mismatch_shares(observed, simulated)
    assert abs(shares[0] - far) < 0.2 * far + 0.002 and abs(shares[1] - look) < 0.2 * look + 0.005
    flagged = observed >= threshold_for_precision(observed, simulated, shares, 0.5)
    assert bad[flagged].mean() >= 0.5 * 0.9
    assert bad[flagged].sum() / bad.sum() > 0.9  # an assumed share of 5%, the catalog taken as right, flagged few at 10%


def test_the_calibrated_probability_keeps_the_order_and_a_cap_bounds_the_share():
    observed, _, simulated = mixture(0.0, 0.3)
    kinds = {"far": simulated[0], "look-alike": simulated[1]}
    capped = calibrate(observed, kinds, 0.5, max_share=0.1)
    assert capped["mismatch_share"] == pytest.approx(0.1) and capped["estimated_mismatch_share"] > 0.25
    probability = sigmoid(capped["a"] * observed + capped["b"])
    assert np.all(np.diff(probability[np.argsort(observed)]) >= 0)
    free = calibrate(observed, kinds, 0.5, max_share=1.0)
    assert (probability >= free["threshold"]).sum() > (probability >= capped["threshold"]).sum()


def test_a_model_that_cannot_tell_simulated_mismatches_flags_almost_nothing():
    rng = np.random.default_rng(1)
    observed, kinds = rng.normal(0, 1, 20_000), {"far": rng.normal(0, 1, 2000), "look-alike": rng.normal(0, 1, 2000)}
    assert sum(mismatch_shares(observed, list(kinds.values()))) > 0.8  # nothing rules out that all are mismatched...
    cal = calibrate(observed, kinds, 0.5, max_share=0.2)  # ...so the cap decides
    assert (sigmoid(cal["a"] * observed + cal["b"]) >= cal["threshold"]).mean() < 0.002


def test_no_threshold_reaching_the_target_flags_nothing():
    observed, simulated = np.array([0.0, 1.0, 2.0]), [np.array([0.0, 1.0, 2.0])]
    assert threshold_for_precision(observed, simulated, [0.1], 0.5) > 2.0
