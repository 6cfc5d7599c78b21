"""The catalog-wide step of `score`: each product takes part in at most one exchange of photos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmaudit.models.claims import Claims
from mmaudit.models.columns import ColumnClaims
import mmaudit.exchanges as exchanges
from mmaudit.exchanges import exchange_gain, expected_photos, far_candidates, one_exchange_each, with_more_candidates
from mmaudit.flag_threshold import robust_scales
from mmaudit.models.judge import CatalogJudge, Weighting


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
    # 2 and 3 have a small real gain (1); 4's only candidate is 0 (3); 5 has no candidate; 6 fits 1's photo best (2),
    # and its only other option, 7, would make things worse (-0.5).
    a, b, c, d, e, lonely, f, g = range(8)
    result = one_exchange_each(_scored({a: [(b, 5.0)], c: [(b, 4.0), (d, 1.0)], d: [(c, 1.0)], e: [(a, 3.0)],
                                        f: [(b, 2.0), (g, -0.5)]}, 8))
    assert list(result.swap_partner[[a, b]]) == [b, a] and list(result.counted_gain[[a, b]]) == [5.0, 5.0]
    assert result.swap_partner[c] == d and result.counted_gain[c] == 1.0  # not the 4 it would borrow from 1
    assert list(result.counted_partner[[a, b, c]]) == [b, a, d]
    assert result.swap_partner[e] == a and np.isnan(result.counted_gain[e])  # suggested, but no evidence: 0 is taken
    assert result.swap_gain[e] == 3.0  # the gain shown is that of the exchange suggested
    # left out, 6 is still told whose photo fits it best (1's), but its evidence is its best exchange with a product in none
    assert result.swap_partner[f] == b and result.swap_gain[f] == 2.0 and result.counted_gain[f] == -0.5
    assert result.counted_partner[f] == g and result.counted_partner[e] == -1  # f's evidence: its exchange with 7
    assert result.swap_partner[lonely] == -1 and np.isnan(result.counted_gain[lonely])
    # each side of an accepted exchange gets its own text's logit with the other's photo
    assert result.swap_logit[a] == -5.0 and result.swap_logit[b] == -10.0


def test_a_reviewed_photo_is_settled_and_a_named_exchange_is_taken_first():
    # 0 and 1 look best exchanged (gain 5), but a reviewer said 1's photo is right: 0 exchanges with 2 instead (3).
    # A reviewer said 3's photo is 4's (an exchange the search never found): 3 and 4 are matched with its gain,
    # and 5, which would have taken 4 (6), is left with none.
    judged = np.array([False, True, False, True, False, False])
    result = one_exchange_each(_scored({0: [(1, 5.0), (2, 3.0)], 2: [(0, 3.0)], 5: [(4, 6.0)]}, 6), judged, {(3, 4): (7.0, -1.0, -2.0)})
    assert result.swap_partner[0] == 2 and result.counted_gain[0] == 3.0 and result.swap_partner[1] == -1
    assert list(result.swap_partner[[3, 4]]) == [4, 3] and list(result.counted_gain[[3, 4]]) == [7.0, 7.0]
    assert list(result.swap_logit[[3, 4]]) == [-1.0, -2.0]
    assert result.swap_partner[5] == 4 and np.isnan(result.counted_gain[5])  # suggested, but 4 is taken


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


def _judge(log_probs: dict[str, np.ndarray], codes: dict[str, np.ndarray], weights: list[float]) -> CatalogJudge:
    """A judge of given out-of-fold log-probabilities and stated values, with a pair model that says nothing."""
    judge = object.__new__(CatalogJudge)
    classes = {name: [f"value {k}" for k in range(p.shape[1])] for name, p in log_probs.items()}
    judge.claims = Claims([ColumnClaims(classes, codes, log_probs, {})])  # no title names another value
    judge.fold = np.full(len(next(iter(codes.values()))), -1)
    judge.weighting = {kind: Weighting(np.array([1.0, *weights]), -1.0) for kind in ("exchange", "fit")}
    judge.pair_model_logits = lambda text_rows, photo_rows: np.zeros(len(text_rows))
    return judge


def _catalog(shows: dict[str, np.ndarray], states: dict[str, np.ndarray], clear: list[int] = ()) -> CatalogJudge:
    """Photos read right with 80-95% confidence (98% for the `clear` ones); `shows` what each photo shows, `states`
    what each text says."""
    rng = np.random.default_rng(0)
    log_probs = {}
    for name, values in shows.items():
        classes = int(max(values.max(), states[name].max())) + 1
        sure = rng.uniform(0.8, 0.95, len(values))
        sure[list(clear)] = 0.98
        p = np.tile(((1 - sure) / (classes - 1))[:, None], (1, classes))
        p[np.arange(len(values)), values] = sure
        log_probs[name] = np.log(p).astype(np.float32)
    return _judge(log_probs, states, [1.0] * len(shows))


def test_the_exchange_vectors_give_the_heads_part_of_every_gain():
    rng = np.random.default_rng(1)
    shows = {"colour": rng.integers(0, 5, 12), "type": rng.integers(0, 3, 12)}
    states = {"colour": rng.integers(0, 5, 12), "type": np.where(rng.random(12) < 0.3, -1, rng.integers(0, 3, 12))}  # -1: not stated
    judge = _catalog(shows, states)
    rows = np.arange(12)
    own = judge.logits(rows, rows)
    queries, keys = judge.exchange_vectors(rows, own)
    i, j = np.meshgrid(rows, rows, indexing="ij")
    gain = exchange_gain(own[i.ravel()], own[j.ravel()], judge.logits(i.ravel(), j.ravel()), judge.logits(j.ravel(), i.ravel()))
    np.testing.assert_allclose(queries @ keys.T, gain.reshape(12, 12) - own[:, None], rtol=1e-5, atol=1e-5)


def test_a_photo_exchanged_with_an_unrelated_product_finds_its_partner_anywhere():
    """Two products far apart exchanged photos; a third shows a photo no product's text asks for. Each of the two is
    given the other; the third is given no one (an exchange that leaves either product misfitting is no fix), nor is
    any product whose photo fits."""
    colour, kind = np.arange(40) % 8, np.arange(40) % 5
    shows, states = {"colour": colour.copy(), "type": kind.copy()}, {"colour": colour, "type": kind}
    for name in shows:
        shows[name][[3, 36]] = shows[name][[36, 3]]
    shows["colour"][20], shows["type"][20] = 9, 6  # nobody states these
    judge = _catalog(shows, states, clear=[3, 36])
    rows = np.arange(40)
    own = judge.logits(rows, rows)
    far = far_candidates(judge, own, own, count=3)
    assert 36 in far[3] and 3 in far[36]
    assert (far[20] < 0).all()
    assert (far[np.setdiff1d(rows, [3, 36, 20])] < 0).all()
    assert (far_candidates(judge, own, own, count=0) < 0).all()


def test_far_candidates_already_among_the_look_alikes_are_not_repeated():
    near = np.array([[1, 2, -1], [0, 2, -1], [0, 1, -1]])
    far = np.array([[2, 5], [-1, -1], [4, 1]])
    assert with_more_candidates(near, far).tolist() == [[1, 2, -1, -1, 5], [0, 2, -1, -1, -1], [0, 1, -1, 4, -1]]


def test_the_expected_photo_is_the_same_in_steps_as_at_once(monkeypatch):
    rng = np.random.default_rng(0)
    photos = rng.normal(size=(10, 4)).astype(np.float32)
    by_text = rng.integers(-1, 10, size=(10, 3))
    by_text[:, 0] = np.arange(10)  # a row's own text is its nearest: its own (maybe wrong) photo is never expected
    known = ((by_text >= 0) & (by_text != np.arange(10)[:, None]))[..., None]
    mean = (photos[by_text.clip(0)] * known).sum(1) / np.maximum(known.sum(1), 1)
    at_once = (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-9)).astype(np.float32)
    monkeypatch.setattr(exchanges, "EXPECTED_ROWS", 3)  # rows 0-3 in steps of 3 and 1, rows 4-9 in steps of 3 and 3
    stepped = np.concatenate([expected_photos(photos, by_text, slice(0, 4)), expected_photos(photos, by_text, slice(4, 10))])
    assert stepped.dtype == np.float32 and np.array_equal(stepped, at_once)
    lonely = np.column_stack([np.arange(10), np.full((10, 2), -1)])  # no neighbour but itself: no expected photo
    assert not expected_photos(photos, lonely, slice(0, 10)).any()
