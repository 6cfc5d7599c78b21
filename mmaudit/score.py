"""`mmaudit score`: judge every product with the model that never trained on it, and look for exchanges.

Two signals per product, both out of fold:
- the pair score: the mismatch logit of the product's own text with its own photo, in the judge's fit weighting;
- the swap gain: over candidate products found by FAISS (similar photo, similar text, and for a badly fitting
  product, far ones whose photos fit its claims), how much
  the two products' fit improves in all if their photos were exchanged:
  gain(i, j) = m(t_i, p_i) + m(t_j, p_j) - m(t_i, p_j) - m(t_j, p_i), in its exchange weighting,
  with each product in at most one exchange catalog-wide (`one_exchange_each`).
That exchange's partner is the suggested fix (`photo_fits`): the product whose current photo fits this text.

The product's score adds the two, each in units of its own spread over the catalog, turned into a probability and
the flag threshold chosen without labels: photos of a sample of products are exchanged on purpose
with a similar product's, and a logistic model learns to tell those from the catalog as it is.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from . import reviews, schema
from .config import EngineConfig, ScoreConfig, as_dict
from .features import open_store, product_features
from .files import write_table
from .metrics import fit_logistic, mismatch_shares, sigmoid, threshold_for_precision
from .models.attributes import encode_values, out_of_fold_log_probs, photo_inputs, titles_also_state
from .models.claims import Claims, ColumnClaims
from .models.words import WordClaims, stated_words
from .models import store
from .neighbours import build_index, search
from .devices import pick_device
from .progress import bar, log

CHUNK = 1024  # products per resumable unit of work
CHUNK_FORMAT = 4  # what a finished chunk holds; raised when `score_chunk` changes, so an interrupted run's chunks are not reused


class Judge:
    """Out-of-fold mismatch logits m(text of i, photo of j) for catalog rows: the pair model's logit and the cost of each
    claim the text makes (`Claims`: its attribute columns, the words of its text columns), weighed as `train` stacked
    them: the exchange weighting (fitted on every kind of pair) tells a photo from its look-alikes', the fit weighting
    (positives vs random negatives) says whether a photo belongs to a text at all."""

    def __init__(self, saved: store.SavedModel, feats: dict, products: pd.DataFrame, device: torch.device, batch: int):
        self.models = [m.to(device) for m in saved.fold_models]
        self.prepared = [m.prepare(feats) for m in self.models]
        self.device = device
        self.fold = np.array([saved.folds.get(pid, -1) for pid in products.product_id])
        self.batch = batch
        cal = saved.calibration
        self.weighting = {"exchange": (np.array(cal["weights"]), float(cal["bias"])), "fit": (np.array(cal["fit_weights"]), float(cal["fit_bias"]))}
        photo_x = photo_inputs(feats)
        self.claims = Claims([self.column_claims(saved, photo_x, products), *self.word_claims(saved, photo_x, products)])

    def column_claims(self, saved: store.SavedModel, photo_x: dict, products: pd.DataFrame) -> ColumnClaims:
        attributes = saved.config.get("attributes", {})  # config.json lists them sorted; the weights follow `train`'s order
        classes = {a: attributes[a] for a in saved.calibration["attribute_columns"]}
        missing = [a for a in classes if a not in products.columns]
        if missing:
            log.warning("catalog has no column(s) %s: those claims are not checked", missing)
        codes = {a: encode_values(products[a], values)[0] if a in products.columns else np.full(len(products), -1)
                 for a, values in classes.items()}
        title_col = saved.config.get("title_col", "")
        also_stated = titles_also_state(products[title_col] if title_col in products.columns else None, codes, classes)
        return ColumnClaims(classes, codes, out_of_fold_log_probs(saved.heads, self.fold, photo_x), also_stated)

    def word_claims(self, saved: store.SavedModel, photo_x: dict, products: pd.DataFrame) -> list[WordClaims]:
        vocabularies = saved.config.get("words", {})  # config.json lists them sorted; the weights follow `train`'s order
        words = {c: vocabularies[c] for c in saved.calibration["word_columns"]}
        missing = [c for c in words if c not in products.columns]
        if missing:
            log.warning("catalog has no text column(s) %s: the words they state are not checked", missing)
        log_probs = out_of_fold_log_probs(saved.word_heads, self.fold, photo_x) if words else {}
        return [WordClaims(c, vocabulary, stated_words(products[c] if c in products.columns else pd.Series([""] * len(products)), vocabulary),
                           log_probs[c]) for c, vocabulary in words.items()]

    def to(self, device: torch.device) -> "Judge":
        """The same judge on another device (a Ray actor given a GPU): what it prepared is moved, not redone,
        so every logit comes from one preparation (a neighbour search redone elsewhere can break ties otherwise)."""
        if device != self.device:
            move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
            self.models = [m.to(device) for m in self.models]
            self.prepared = [{k: move(v) for k, v in p.items()} for p in self.prepared]
            self.device = device
        return self

    def columns(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """[pairs, 1 + claims]: the pair model's logit and the cost of each claim."""
        return np.column_stack([self.pair_model_logits(text_rows, photo_rows), self.claims.costs(text_rows, photo_rows)])

    def weigh(self, columns: np.ndarray, weighting: str = "exchange") -> np.ndarray:
        weights, bias = self.weighting[weighting]
        return columns @ weights + bias

    def logits(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """Mismatch logits in the exchange weighting."""
        return self.weigh(self.columns(text_rows, photo_rows))

    def exchange_vectors(self, rows: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(queries, keys) of `rows` whose inner product q_i . k_j is the claims' part of the gain of exchanging i and j,
        less what depends on i alone (own: every row's own logit). With the claims' cost of text i with photo j written as
        c_j - t_i . p_j (`Claims.vectors`): q_i = [t_i, p_i, 1], k_j = [p_j, t_j, own_j - 2 bias - c_j]. The pair model's
        part is left out: this only finds candidates, which the whole judge then scores."""
        weights, bias = self.weighting["exchange"][0][1:], self.weighting["exchange"][1]
        text, photo, constant = self.claims.vectors(rows, weights)
        ones = np.ones((len(rows), 1), dtype=np.float32)
        return np.hstack([text, photo, ones]), np.hstack([photo, text, (own[rows] - 2 * bias - constant)[:, None].astype(np.float32)])

    def contradictions(self, rows: np.ndarray, products: pd.DataFrame) -> list[str]:
        """For each row, the claim its own photo contradicts most, in words ("" when none does); a column's value is
        quoted as `products` (the rows this judge was built on) writes it, even one too rare for a class of its own."""
        return self.claims.contradictions(rows, self.weighting["fit"][0][1:], products)

    @torch.no_grad()
    def pair_model_logits(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """Each text is judged by its product's held-out model (all models averaged for a product none held out)."""
        out = np.zeros(len(text_rows))
        folds = self.fold[text_rows]
        for f, (model, prepared) in enumerate(zip(self.models, self.prepared)):
            chosen = np.flatnonzero((folds == f) | (folds < 0))
            weight = np.where(folds[chosen] < 0, 1.0 / len(self.models), 1.0)
            for s in range(0, len(chosen), self.batch):
                idx = chosen[s:s + self.batch]
                values = model.pair_logits(prepared, torch.from_numpy(text_rows[idx]), torch.from_numpy(photo_rows[idx]))
                out[idx] += weight[s:s + self.batch] * values.float().cpu().numpy()
        return out


def candidates(feats: dict, count: int) -> np.ndarray:
    """For each row, up to 3*count other rows (-1 pads): those with a similar photo, those with a similar
    text, and those whose photo looks like what this text's look-alikes show (the mean photo of its
    text neighbours) - where a product's own photo went when it was exchanged with an unrelated one."""
    photo_index = build_index(feats["photo"])
    _, by_photo = search(photo_index, feats["photo"], count + 1)
    _, by_text = search(build_index(feats["text"]), feats["text"], count + 1)
    known = ((by_text >= 0) & (by_text != np.arange(len(by_text))[:, None]))[..., None]  # not its own (maybe wrong) photo
    expected = (feats["photo"][by_text.clip(0)] * known).sum(1) / np.maximum(known.sum(1), 1)
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-9)
    _, by_expected = search(photo_index, expected.astype(np.float32), count)
    found = np.concatenate([by_photo, by_text, by_expected], 1)
    out = np.full((len(found), 3 * count), -1, dtype=np.int64)
    for i, row in enumerate(found):
        unique = [j for j in dict.fromkeys(row.tolist()) if j != i and j >= 0][: 3 * count]
        out[i, :len(unique)] = unique
    return out


EXCHANGES = 8  # best candidate exchanges kept per product for the catalog-wide matching
MISFIT_Z = 2.0  # a product whose own fit is this many spreads worse than the catalog's median may have a partner anywhere


def far_candidates(judge: Judge, own: np.ndarray, fit: np.ndarray, count: int) -> np.ndarray:
    """[rows, count] exchange partners from anywhere in the catalog (-1 pads): an unrelated product's photo is neither a
    look-alike nor a text neighbour's, so `candidates` rarely holds it. Only products whose own photo misfits (fit more than `MISFIT_Z`
    spreads above the median) are searched, among each other, for the exchanges the claims like best (attribute
    columns and the words of the text; `Judge.exchange_vectors`, one FAISS inner-product search). A partner found is kept only when, exchanged, both
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
    bar = float(np.median(own))
    fits_both = np.maximum(judge.logits(rows, partners), judge.logits(partners, rows)) <= bar
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


def score_chunk(judge: Judge, rows: np.ndarray, cands: np.ndarray, own: np.ndarray) -> pd.DataFrame:
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


def one_exchange_each(scored: pd.DataFrame) -> pd.DataFrame:
    """Each photo belongs to one product, so each product takes part in at most one exchange: candidate exchanges
    are accepted greedily, largest gain first, when neither product is already in an accepted one (a neighbour of
    a swapped pair no longer borrows its gain). A product left out is suggested its best partner all the same (that
    product's photo fits its text best, even if it is in another exchange), but its gain as evidence is that of its
    best exchange with a product in none (NaN when there is none).

    Returns per row: swap_partner (row, -1 for none), swap_gain (of the exchange with that partner), swap_logit (its
    text with the partner's photo) and counted_gain (the gain that counts as evidence)."""
    n = len(scored)
    first = np.repeat(scored.row.to_numpy(), scored.exchange_rows.map(len).to_numpy())
    flat = lambda column, dtype: np.concatenate([*scored[column], np.zeros(0)]).astype(dtype)  # noqa: E731
    second, gains = flat("exchange_rows", np.int64), flat("exchange_gains", np.float64)
    logits, back = flat("exchange_logits", np.float64), flat("exchange_back_logits", np.float64)
    partner, gain, logit, counted = np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    by_gain = np.argsort(-gains, kind="stable")
    for e in by_gain[gains[by_gain] > 0]:
        i, j = first[e], second[e]
        if partner[i] < 0 and partner[j] < 0 and i != j:
            partner[i], partner[j], gain[i], gain[j], logit[i], logit[j] = j, i, gains[e], gains[e], logits[e], back[e]
    matched = partner >= 0
    counted[matched] = gain[matched]
    for e in by_gain:  # everyone else, from its own candidates in order of gain
        i, j = first[e], second[e]
        if matched[i] or i == j:
            continue
        if partner[i] < 0:  # its best partner: the suggested fix (docs/decisions/2026-11-30-exchange-gain-and-matching.md)
            partner[i], logit[i], gain[i] = j, logits[e], gains[e]
        if np.isnan(counted[i]) and not matched[j]:  # its evidence: the best exchange with a product in none
            counted[i] = gains[e]
    return pd.DataFrame({"swap_partner": partner, "swap_gain": gain, "swap_logit": logit, "counted_gain": counted})


def simulate_swaps(judge: Judge, cands: np.ndarray, own: np.ndarray, photo_candidates: int, count: int,
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
    text_i_photo_j = judge.columns(rows, partners)
    gain_back = exchange_gain(judge.weigh(text_i_photo_j), judge.logits(partners, rows), own[rows], own[partners])
    return np.stack([judge.weigh(text_i_photo_j, "fit"), gain_back], 1)


def exchange_gain(i_now: np.ndarray, j_now: np.ndarray, i_after: np.ndarray, j_after: np.ndarray) -> np.ndarray:
    """How much exchanging two products' photos improves their fit in all (mismatch logits before and after).
    A badly fitting product would lift every neighbour's gain with it; `one_exchange_each` stops that, so the
    sum serves better than the smaller of the two improvements (docs/decisions/2026-11-30-exchange-gain-and-matching.md)."""
    return (i_now - i_after) + (j_now - j_after)


def robust_scales(pair_logit: np.ndarray, gain: np.ndarray) -> list[tuple[float, float]]:
    """Median and spread (interquartile range / 1.349: the standard deviation for a normal distribution) of each
    signal over the catalog. The gains are skewed: their lower quartile sits next to the median (the many products
    with no good exchange) and their upper quartile far from it: the median absolute deviation would follow the narrow
    side, and the gain's weight in the sum would change from catalog to catalog (docs/decisions/2026-11-30-robust-spread.md)."""
    return [robust_scale(pair_logit), robust_scale(gain)]


def robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and interquartile range / 1.349 of the finite values."""
    finite = values[np.isfinite(values)]
    centre = float(np.median(finite)) if len(finite) else 0.0
    spread = float(np.subtract(*np.percentile(finite, [75, 25])) / 1.349) if len(finite) else 1.0
    return centre, max(spread, 1e-6)


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


def _work_id(catalog_path: Path, model_path: Path, config: ScoreConfig) -> str:
    parts = [str(Path(catalog_path).resolve()), str(Path(catalog_path).stat().st_mtime_ns), str(Path(model_path).resolve()),
             str((Path(model_path) / "model.safetensors").stat().st_mtime_ns), str(config.candidates), str(config.far_candidates), f"chunks-{CHUNK_FORMAT}-{EXCHANGES}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _score_all(judge: Judge, cands: np.ndarray, own: np.ndarray, parts: Path, engine: EngineConfig, device: str) -> pd.DataFrame:
    """Score in chunks, each written to `parts` as it finishes; chunks already there (an interrupted run) are
    reused. The chunks are computed here, or on the Ray cluster by copies of this judge (on `device`, or a
    GPU an actor was given)."""
    parts.mkdir(parents=True, exist_ok=True)
    n = len(own)
    part = lambda start: parts / f"chunk-{start:012d}.parquet"  # noqa: E731
    starts = list(range(0, n, CHUNK))
    missing = [s for s in starts if not part(s).exists()]
    if engine.name == "ray" and missing:
        from . import distributed

        job = {"judge": judge, "device": device, "cands": cands, "own": own, "chunk": CHUNK}
        computed = distributed.score_chunks(engine, job, missing)
    else:
        computed = ((s, score_chunk(judge, np.arange(s, min(s + CHUNK, n)), cands, own)) for s in missing)
    with bar() as progress:
        task = progress.add_task("scoring", total=n, rate="")
        progress.update(task, completed=n - sum(min(CHUNK, n - s) for s in missing))
        for start, frame in computed:
            write_table(pa.Table.from_pandas(frame, preserve_index=False), part(start))
            progress.advance(task, len(frame))
    frames = [pd.read_parquet(part(s)) for s in starts]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run(catalog_path: Path, model_path: Path, out: Path, config: ScoreConfig | None = None, cache_dir: str = "",
        engine: EngineConfig | None = None, reviewed: list[Path] = ()) -> tuple[Path, pd.DataFrame]:
    """Score every product of catalog.parquet; write scores.parquet (every input row, with its status). `reviewed`:
    review files whose verdicts the products keep and the flag threshold is checked against (`reviews`)."""
    config, engine = config or ScoreConfig(), engine or EngineConfig()
    catalog = schema.read(catalog_path, "catalog")
    saved = store.load(model_path)
    products = schema.ok_products(catalog, catalog_path)
    verdicts = reviews.for_catalog(reviews.read_verdicts(list(reviewed)), products.product_id)
    feats = product_features(open_store(catalog_path, saved.config["backbone"], cache_dir, engine), products)
    ids = products.product_id.to_numpy()
    judge = Judge(saved, feats, products, pick_device(config.device), config.batch_size)
    rows = np.arange(len(ids))
    own_columns = judge.columns(rows, rows)
    own, fit = judge.weigh(own_columns), judge.weigh(own_columns, "fit")
    near = candidates(feats, config.candidates)
    cands = with_more_candidates(near, far_candidates(judge, own, fit, config.far_candidates))
    parts = Path(out).with_name(f".{Path(out).name}.parts-{_work_id(catalog_path, model_path, config)}")
    scored = _score_all(judge, cands, own, parts, engine, config.device)
    scored = pd.concat([scored, one_exchange_each(scored)], axis=1)

    pair_cal = saved.calibration
    prob = sigmoid
    pair_logit = fit[scored.row]
    scales = robust_scales(pair_logit, scored.counted_gain.to_numpy())
    observed = combine(pair_logit, scored.counted_gain.to_numpy(), scales)
    simulated = {kind: simulate_swaps(judge, near, own, config.candidates, config.simulated_swaps, far=kind == "far")
                 for kind in ("far", "look-alike")}  # highest-scoring kind first (`metrics.mismatch_shares`)
    simulated = {kind: combine(v[:, 0], v[:, 1], scales) for kind, v in simulated.items()}
    cal = calibrate(observed, simulated, config.target_precision, config.max_mismatch_share)
    cal["signal_scales"] = scales
    mismatch = sigmoid(cal["a"] * observed + cal["b"])
    verdict = reviews.per_product(verdicts, products.product_id)[scored.row]
    threshold = cal["threshold"] if config.threshold is None else config.threshold
    if config.threshold is None and len(verdicts):
        threshold, cal["verdicts"] = reviews.threshold_from_verdicts(mismatch, verdict != "", verdict == reviews.WRONG, threshold,
                                                                     config.target_precision)
    named = reviews.per_product(verdicts, products.product_id, "right_photo_of")[scored.row]
    named = np.where(np.isin(named, ids), named, "")  # a reviewer's named product, where it is in the catalog
    photo_fits = np.where(scored.swap_partner >= 0, ids[scored.swap_partner.clip(0)], None)
    result = pd.DataFrame({
        "row_number": products.row_number.to_numpy()[scored.row], "mismatch_score": mismatch, "pair_score": prob(pair_logit),
        "swap_gain": scored.swap_gain, "photo_fits": np.where(named != "", named, photo_fits),
        "photo_fits_score": np.where(named != "", np.nan, 1 - prob(scored.swap_logit)),
        "text_fits": np.where(scored.text_fits_row >= 0, ids[scored.text_fits_row.clip(0)], None),
        "text_fits_score": 1 - prob(scored.text_fits_logit),
        "contradiction": judge.contradictions(scored.row.to_numpy(), products), "verdict": verdict,
    })
    result["flagged"] = ((result.mismatch_score >= threshold) & (verdict != reviews.OK)) | (verdict == reviews.WRONG)
    table = catalog.merge(result, on="row_number", how="left")  # by row: a duplicate id keeps its own status
    table["flagged"] = table.flagged.fillna(False).astype(bool)
    table["verdict"] = table.verdict.fillna("")
    table["model"] = saved.name
    settings = {**as_dict(config), "threshold_used": threshold, "model_dir": str(Path(model_path).resolve()),
                "catalog": str(Path(catalog_path).resolve()), "calibration": cal, "pair_calibration": pair_cal}
    write_table(schema.to_table(table, "scores", settings), out)
    shutil.rmtree(parts, ignore_errors=True)
    log.info("scored %d products, %d flagged", len(result), int(result.flagged.sum()))
    summary = pd.DataFrame([("products", len(catalog)), ("scored", len(result)), ("flagged", int(result.flagged.sum())),
                            ("estimated share of mismatches", f"{cal['estimated_mismatch_share']:.1%}"),
                            ("threshold", f"{threshold:.4f}"), ("model", saved.name)]
                           + ([("reviewed (wrong photo / ok)", f"{(verdict == reviews.WRONG).sum()} / {(verdict == reviews.OK).sum()}")]
                              if len(verdicts) else []), columns=["what", "value"])
    return Path(out), summary
