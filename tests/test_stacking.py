"""The weightings' fit: a logistic regression by Newton's method, and `train.stack`'s non-negative weights."""

from __future__ import annotations

import numpy as np

import mmaudit.metrics as metrics
import mmaudit.models.claims as claims_module
from mmaudit.metrics import curvature, fit_logistic
from mmaudit.models.claims import Claims
from mmaudit.models.columns import ColumnClaims
from mmaudit.models.words import WordClaims
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
    weights, bias = stack(np.column_stack([logit, costs]), y)
    assert weights[2] == 0 and (weights >= 0).all() and weights[1] > 0
    kept = np.flatnonzero(weights != 0)
    x = np.column_stack([logit, costs])[:, kept]
    spread = x.std(0) + 1e-9
    alone = fit_logistic(x / spread, y, ridge=1e-3 * len(x))
    np.testing.assert_allclose(weights[kept], alone[:-1] / spread, atol=1e-7)
    np.testing.assert_allclose(bias, alone[-1], atol=1e-7)


def test_the_curvature_summed_in_steps_is_the_whole_one_and_the_fit_ends_where_exact_newton_does(monkeypatch):
    """The curvature is summed a block of rows at a time, in float32 (to float32's rounding); Newton's method with it
    ends at the weights of Newton's method written out in float64 (the gradient decides where it ends)."""
    logit, costs, y = pairs()
    x = np.column_stack([logit, costs])
    row_weights = np.random.default_rng(1).random(len(x))
    ones = np.column_stack([x, np.ones(len(x))])
    whole = ones.T @ (ones * row_weights[:, None])
    monkeypatch.setattr(metrics, "NEWTON_ROWS", 999)  # 4,000 rows in five steps, the last one short
    np.testing.assert_allclose(curvature(x, row_weights), whole, rtol=1e-5)
    np.testing.assert_allclose(fit_logistic(x, y, ridge=1.0), _fit_in_one_step(x, y), atol=1e-8)


def test_near_the_minimum_a_step_reuses_the_curvature_and_the_fit_ends_where_it_would_with_a_new_one(monkeypatch):
    """After a step under `CURVATURE_KEPT_BELOW` the next reuses the curvature: fewer curvatures than Newton steps,
    and the same weights (the gradient, computed anew each step, says where the fit ends) as with a new curvature
    every step."""
    logit, costs, y = pairs()
    x = np.column_stack([logit, costs])
    counted = {"curvatures": 0, "steps": 0}
    summed, solve = metrics.curvature, np.linalg.solve
    monkeypatch.setattr(metrics, "curvature", lambda *a: counted.__setitem__("curvatures", counted["curvatures"] + 1) or summed(*a))
    monkeypatch.setattr(np.linalg, "solve", lambda *a: counted.__setitem__("steps", counted["steps"] + 1) or solve(*a))
    kept = fit_logistic(x, y, ridge=1.0)
    assert 0 < counted["curvatures"] < counted["steps"]
    monkeypatch.setattr(metrics, "CURVATURE_KEPT_BELOW", 0.0)
    counted.update(curvatures=0, steps=0)
    np.testing.assert_allclose(kept, fit_logistic(x, y, ridge=1.0), rtol=0, atol=1e-12)
    assert counted["curvatures"] == counted["steps"]


def test_column_spreads_are_numpys_std_read_a_block_of_rows_at_a_time(monkeypatch):
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(2500, 7)) * np.arange(1, 8)
    monkeypatch.setattr(metrics, "NEWTON_ROWS", 999)  # 2,500 rows in three blocks, the last one short
    np.testing.assert_allclose(metrics.column_spreads(x), x.std(0), rtol=1e-12)


def _fit_in_one_step(x, y, ridge=1.0):
    """Newton's method written out on the features with their column of ones, the curvature in one product."""
    ones = np.column_stack([x, np.ones(len(x))])
    balance = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(ones.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-ones @ w))
        grad = ones.T @ (balance * (p - y)) + ridge * w
        w -= np.linalg.solve(ones.T @ (ones * (balance * p * (1 - p))[:, None]) + ridge * np.eye(len(w)), grad)
    return w


def test_the_claims_costs_written_a_block_of_rows_at_a_time_are_the_parts_side_by_side(monkeypatch):
    """`Claims.costs` fills one array (the weightings' fit reads it in place) from every part, `COST_ROWS` pairs at a time:
    the same numbers as each part's costs of all the pairs at once, placed after the pair model's logit by
    `Claims.columns`; `Claims.weighed` sums them weighed, to rounding, without the array."""
    rng = np.random.default_rng(5)
    words = WordClaims("title", ["red", "blue", "shirt"], np.array([[0, 2], [1, -1], [-1, -1], [2, 0]]),
                       np.log(rng.dirichlet([1, 1], size=(4, 3))).astype(np.float32))
    colours = ColumnClaims({"colour": ["Blue", "Red", "other"]}, {"colour": np.array([1, 0, -1, 2])},
                           {"colour": np.log(rng.dirichlet([1, 1, 1], size=4)).astype(np.float32)}, {})
    claims = Claims([colours, words])
    t, p = rng.integers(0, 4, 23), rng.integers(0, 4, 23)
    whole = np.column_stack([colours.costs(t, p), words.costs(t, p)])
    monkeypatch.setattr(claims_module, "COST_ROWS", 5)  # 23 pairs in five blocks, the last one short
    np.testing.assert_array_equal(claims.costs(t, p), whole)
    logits = rng.normal(size=23)
    np.testing.assert_array_equal(claims.columns(logits, t, p), np.column_stack([logits, whole]))
    weights = rng.random(4)  # colour, then the three words
    np.testing.assert_allclose(claims.weighed(t, p, weights), whole @ weights, rtol=1e-12, atol=1e-12)  # from the stated words alone
