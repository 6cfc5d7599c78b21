"""Would exchanging two products' photos make both fit better? Candidates, gains and the catalog-wide matching.

The gain of exchanging the photos of i and j: gain(i, j) = m(t_i, p_i) + m(t_j, p_j) - m(t_i, p_j) - m(t_j, p_i), the
judge's mismatch logits in its exchange weighting. Candidate partners come from FAISS (similar photo, similar text,
the photo this text's look-alikes show, and for a badly fitting product, far ones whose photos fit its claims); each
product takes part in at most one exchange catalog-wide (`one_exchange_each`), whose partner is the suggested fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import robust_scale
from .models.judge import CatalogJudge
from .neighbours import build_index, query_blocks, search


def candidates(feats: dict, count: int) -> np.ndarray:
    """For each row, up to 3*count other rows (-1 pads): those with a similar photo, those with a similar
    text, and those whose photo looks like what this text's look-alikes show (the mean photo of its
    text neighbours) - where a product's own photo went when it was exchanged with an unrelated one."""
    photo_index = build_index(feats["photo"])
    _, by_photo = search(photo_index, feats["photo"], count + 1)
    _, by_text = search(build_index(feats["text"]), feats["text"], count + 1)
    by_expected = np.concatenate([search(photo_index, expected_photos(feats["photo"], by_text, rows), count)[1]
                                  for rows in query_blocks(len(by_text))])  # searched as made: not all held at once
    found = np.concatenate([by_photo, by_text, by_expected], 1)
    out = np.full((len(found), 3 * count), -1, dtype=np.int64)
    for i, row in enumerate(found):
        unique = [j for j in dict.fromkeys(row.tolist()) if j != i and j >= 0][: 3 * count]
        out[i, :len(unique)] = unique
    return out


EXPECTED_ROWS = 1024  # rows per step of `expected_photos`: its gather holds rows x neighbours x photo dimensions


def expected_photos(photos: np.ndarray, by_text: np.ndarray, rows: slice) -> np.ndarray:
    """[rows, dims] float32: for `rows`, the unit mean photo of each one's text neighbours (-1 pads and the row itself
    left out), `EXPECTED_ROWS` rows at a time (a million rows at once would gather 21 x 1,280 floats each)."""
    start, stop, _ = rows.indices(len(by_text))
    out = np.zeros((stop - start, photos.shape[1]), dtype=np.float32)
    for step in range(start, stop, EXPECTED_ROWS):
        near = by_text[step:min(step + EXPECTED_ROWS, stop)]
        known = ((near >= 0) & (near != np.arange(step, step + len(near))[:, None]))[..., None]  # not its own (maybe wrong) photo
        mean = (photos[near.clip(0)] * known).sum(1) / np.maximum(known.sum(1), 1)
        out[step - start:step - start + len(near)] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-9)
    return out


EXCHANGES = 8  # best candidate exchanges kept per product for the catalog-wide matching
MISFIT_Z = 2.0  # a product whose own fit is this many spreads worse than the catalog's median may have a partner anywhere


def far_candidates(judge: CatalogJudge, own: np.ndarray, fit: np.ndarray, count: int) -> np.ndarray:
    """[rows, count] exchange partners from anywhere in the catalog (-1 pads): an unrelated product's photo is neither a
    look-alike nor a text neighbour's, so `candidates` rarely holds it. Only products whose own photo misfits (fit more than `MISFIT_Z`
    spreads above the median) are searched, among each other, for the exchanges the claims like best (attribute
    columns and the words of the text; `CatalogJudge.exchange_vectors`, one FAISS inner-product search). A partner found is kept only when, exchanged, both
    products fit at least as well as the catalog's median product fits its own photo: the best of thousands of
    exchanges is otherwise often a chance one (docs/decisions/2026-11-30-far-candidates.md)."""
    out = np.full((len(own), count), -1, dtype=np.int64)
    centre, spread = robust_scale(fit)
    misfits = np.flatnonzero((fit - centre) / spread > MISFIT_Z)
    if count <= 0 or len(misfits) < 2 or not judge.claims.names:
        return out
    queries, keys = judge.exchange_vectors(misfits, own)
    _, found = search(build_index(keys), queries, count + 1)
    rows = np.repeat(misfits, found.shape[1])
    partners = np.where(found >= 0, misfits[found.clip(0)], -1).ravel()
    usable = (partners >= 0) & (partners != rows)
    rows, partners = rows[usable], partners[usable]
    median_own = float(np.median(own))
    fits_both = np.maximum(judge.logits(rows, partners), judge.logits(partners, rows)) <= median_own
    filled = np.zeros(len(own), dtype=np.int64)
    for i, j in zip(rows[fits_both], partners[fits_both]):
        if filled[i] < count:
            out[i, filled[i]] = j
            filled[i] += 1
    return out


def with_more_candidates(cands: np.ndarray, more: np.ndarray) -> np.ndarray:
    """The candidates so far, then the `more` ones (from another search) that are not among them already."""
    repeated = (more[:, :, None] == cands[:, None, :]).any(2)
    return np.concatenate([cands, np.where(repeated, -1, more)], 1)


def score_chunk(judge: CatalogJudge, rows: np.ndarray, cands: np.ndarray, own: np.ndarray) -> pd.DataFrame:
    """Per row of the chunk: its best candidate exchanges (partner rows, gains, the logit of
    its text with the partner's photo and of the partner's text with its photo), and the product whose text
    its photo fits best."""
    c = cands[rows]
    valid = c >= 0
    ii = np.repeat(rows, c.shape[1])[valid.ravel()]
    jj = c.ravel()[valid.ravel()]
    text_i_photo_j = judge.logits(ii, jj)
    text_j_photo_i = judge.logits(jj, ii)
    gain = np.full(c.shape, -np.inf)
    gain[valid] = exchange_gain(own[ii], own[jj], text_i_photo_j, text_j_photo_i)
    text_i_photo, text_j_photo = np.full(c.shape, np.nan), np.full(c.shape, np.nan)
    text_i_photo[valid], text_j_photo[valid] = text_i_photo_j, text_j_photo_i
    fits_text = np.where(valid, text_j_photo, np.inf)
    best_text = fits_text.argmin(1)
    has = valid.any(1)
    order = np.argsort(-gain, 1)[:, :EXCHANGES]
    keep = [np.isfinite(g) for g in np.take_along_axis(gain, order, 1)]
    at = lambda m: [v[k] for v, k in zip(np.take_along_axis(m, order, 1), keep)]  # noqa: E731
    return pd.DataFrame({
        "row": rows, "exchange_rows": at(c), "exchange_gains": at(gain), "exchange_logits": at(text_i_photo),
        "exchange_back_logits": at(text_j_photo),
        "text_fits_row": np.where(has, c[np.arange(len(rows)), best_text], -1),
        "text_fits_logit": np.where(has, fits_text[np.arange(len(rows)), best_text], np.nan),
    })


def one_exchange_each(scored: pd.DataFrame, judged: np.ndarray | None = None, known: dict[tuple[int, int], tuple] | None = None) -> pd.DataFrame:
    """Each photo belongs to one product, so each product takes part in at most one exchange: candidate exchanges
    are accepted greedily, largest gain first, when neither product is already in an accepted one (a neighbour of
    a swapped pair no longer borrows its gain). A product left out is suggested its best partner all the same (that
    product's photo fits its text best, even if it is in another exchange), but its gain as evidence is that of its
    best exchange with a product in none (NaN when there is none).

    Reviewers' verdicts settle some photos: a product a reviewer judged (`judged`, per row) takes part in no exchange
    found here, for itself or as anyone's partner, and the exchanges a reviewer named (`known`: (row, row) -> its gain,
    the logit of each text with the other's photo) are accepted first, so the product whose photo was found on the
    judged one gets its exchange as evidence.

    Returns per row: swap_partner (row, -1 for none), swap_gain (of the exchange with that partner), swap_logit (its
    text with the partner's photo), counted_gain (the gain that counts as evidence) and counted_partner (the row of the
    exchange that gain is of, -1 for none: the partner, unless that one is in another exchange)."""
    n = len(scored)
    judged = np.zeros(n, dtype=bool) if judged is None else judged
    first = np.repeat(scored.row.to_numpy(), scored.exchange_rows.map(len).to_numpy())
    flat = lambda column, dtype: np.concatenate([*scored[column], np.zeros(0)]).astype(dtype)  # noqa: E731
    second, gains = flat("exchange_rows", np.int64), flat("exchange_gains", np.float64)
    logits, back = flat("exchange_logits", np.float64), flat("exchange_back_logits", np.float64)
    partner, gain, logit, counted = np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    counted_partner = np.full(n, -1)
    for (i, j), (g, i_logit, j_logit) in (known or {}).items():
        if partner[i] < 0 and partner[j] < 0 and i != j:
            partner[i], partner[j], gain[i], gain[j], logit[i], logit[j] = j, i, g, g, i_logit, j_logit
    open_edge = ~(judged[first] | judged[second]) if len(first) else np.zeros(0, dtype=bool)
    by_gain = np.argsort(-gains, kind="stable")
    for e in by_gain[(gains[by_gain] > 0) & open_edge[by_gain]]:
        i, j = first[e], second[e]
        if partner[i] < 0 and partner[j] < 0 and i != j:
            partner[i], partner[j], gain[i], gain[j], logit[i], logit[j] = j, i, gains[e], gains[e], logits[e], back[e]
    matched = partner >= 0
    counted[matched], counted_partner[matched] = gain[matched], partner[matched]
    for e in by_gain:  # everyone else, from its own candidates in order of gain
        i, j = first[e], second[e]
        if matched[i] or i == j or judged[j]:
            continue
        if partner[i] < 0:  # its best partner: the suggested fix (docs/decisions/2026-11-30-exchange-gain-and-matching.md)
            partner[i], logit[i], gain[i] = j, logits[e], gains[e]
        if np.isnan(counted[i]) and not matched[j]:  # its evidence: the best exchange with a product in none
            counted[i], counted_partner[i] = gains[e], j
    return pd.DataFrame({"swap_partner": partner, "swap_gain": gain, "swap_logit": logit, "counted_gain": counted,
                         "counted_partner": counted_partner})


def exchange_gain(i_now: np.ndarray, j_now: np.ndarray, i_after: np.ndarray, j_after: np.ndarray) -> np.ndarray:
    """How much exchanging two products' photos improves their fit in all (mismatch logits before and after).
    A badly fitting product would lift every neighbour's gain with it; `one_exchange_each` stops that, so the
    sum serves better than the smaller of the two improvements (docs/decisions/2026-11-30-exchange-gain-and-matching.md)."""
    return (i_now - i_after) + (j_now - j_after)
