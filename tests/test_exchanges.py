"""The catalog-wide step of `score`: each product takes part in at most one exchange of photos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmaudit.score import exchange_gain, one_exchange_each, robust_scales


def _scored(edges: dict[int, list[tuple[int, float]]], n: int) -> pd.DataFrame:
    """A scored frame as the chunks write it: per row, its candidate exchanges (partner, gain), logits made up."""
    rows = [edges.get(i, []) for i in range(n)]
    return pd.DataFrame({
        "row": np.arange(n),
        "exchange_rows": [np.array([j for j, _ in r], dtype=np.int64) for r in rows],
        "exchange_gains": [np.array([g for _, g in r]) for r in rows],
        "exchange_logits": [np.array([-g for _, g in r]) for r in rows],
        "exchange_back_logits": [np.array([-2 * g for _, g in r]) for r in rows],
    })


def test_a_swapped_pair_does_not_lend_its_gain_to_a_neighbour():
    # 0 and 1 exchanged photos (gain 5); 2 looks like 1, so exchanging 2 with 1 also "helps" (4);
    # 2 and 3 have a small real gain (1); 4's only candidate is 0 (3); 5 has no candidate.
    a, b, c, d, e, lonely = range(6)
    result = one_exchange_each(_scored({a: [(b, 5.0)], c: [(b, 4.0), (d, 1.0)], d: [(c, 1.0)], e: [(a, 3.0)]}, 6))
    assert list(result.swap_partner[[a, b]]) == [b, a] and list(result.swap_gain[[a, b]]) == [5.0, 5.0]
    assert result.swap_partner[c] == d and result.swap_gain[c] == 1.0  # not the 4 it would borrow from 1
    assert result.swap_partner[e] == a and np.isnan(result.swap_gain[e])  # suggested, but no evidence: 0 is taken
    assert result.swap_partner[lonely] == -1 and np.isnan(result.swap_gain[lonely])
    # each side of an accepted exchange gets its own text's logit with the other's photo
    assert result.swap_logit[a] == -5.0 and result.swap_logit[b] == -10.0


def test_no_exchange_with_itself_and_negative_gains_are_not_exchanges():
    result = one_exchange_each(_scored({0: [(0, 9.0), (1, -2.0)], 1: [(0, -2.0)]}, 2))
    assert result.swap_partner[0] == 1 and result.swap_gain[0] == -2.0  # its best real option, not itself
    assert result.swap_partner[1] == 0 and result.swap_gain[1] == -2.0


def test_an_exchange_counts_both_products_improvements_in_all():
    # i's text names a colour (its fit improves by 3 with j's photo); j's text is vague (it fits both photos
    # alike, -0.5): the exchange improves the pair by 2.5, so it is found even though j alone barely gains.
    i_now, j_now, i_after, j_after = np.array([2.0]), np.array([0.0]), np.array([-1.0]), np.array([0.5])
    assert exchange_gain(i_now, j_now, i_after, j_after)[0] == 2.5
    # an exchange that makes the pair fit worse in all is no gain
    assert exchange_gain(np.array([0.0]), np.array([0.0]), np.array([1.0]), np.array([-0.5]))[0] == -0.5


def test_a_skewed_signal_is_scaled_by_both_sides_of_its_centre():
    """Gains sit close below their median and far above it; the spread that weighs them in the sum must see the
    wide side (a median absolute deviation gives about 0.02 here, and would let the gain swamp the product's own fit)."""
    rng = np.random.default_rng(0)
    gain = np.concatenate([-np.abs(rng.normal(0, 0.01, 5000)), np.abs(rng.normal(0, 1, 5000))])
    fit = rng.normal(0, 2, 10000)
    (fit_centre, fit_spread), (gain_centre, gain_spread) = robust_scales(fit, gain)
    assert abs(fit_spread - 2) < 0.1 and abs(fit_centre) < 0.1
    assert gain_spread > 0.4
