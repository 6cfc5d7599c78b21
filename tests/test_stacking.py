"""The weightings' fit: a logistic regression by Newton's method, and `train.stack`'s non-negative weights."""

from __future__ import annotations

import numpy as np

from mmaudit.metrics import fit_logistic
from mmaudit.train import stack


def pairs(seed: int = 0, n: int = 4000):
    """A pair model's logit and three claim costs: one that rises with a mismatch, one that falls (a claim that would
    make a contradicted pair fit better), one of noise."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    logit = rng.normal(size=n) + 2 * y
    costs = np.column_stack([rng.exponential(size=n) + y, rng.exponential(size=n) - 0.5 * y, rng.normal(size=n)])
    return logit, costs, y


def test_newton_ends_at_the_same_weights_from_any_start():
    logit, costs, y = pairs()
    x = np.column_stack([logit, costs])
    cold = fit_logistic(x, y, ridge=1.0)
    for start in (np.full(5, 3.0), cold + 0.1):  # far (a full Newton step overshoots from it) and near
        np.testing.assert_allclose(fit_logistic(x, y, ridge=1.0, start=start), cold, atol=1e-8)
    assert not np.allclose(fit_logistic(x, y, ridge=1.0, steps=1, start=np.full(5, 3.0)), cold, atol=1e-3)  # a real start


def test_stacked_weights_are_non_negative_and_those_of_the_columns_kept():
    """The claim whose cost falls with a mismatch is dropped (weight 0), and the weights left are a fit on the columns
    kept alone: refitting from where the last fit ended changes where it ends by nothing."""
    logit, costs, y = pairs()
    weights, bias = stack(logit, costs, y)
    assert weights[2] == 0 and (weights >= 0).all() and weights[1] > 0
    kept = np.flatnonzero(weights != 0)
    x = np.column_stack([logit, costs])[:, kept]
    spread = x.std(0) + 1e-9
    alone = fit_logistic(x / spread, y, ridge=1e-3 * len(x))
    np.testing.assert_allclose(weights[kept], alone[:-1] / spread, atol=1e-7)
    np.testing.assert_allclose(bias, alone[-1], atol=1e-7)
