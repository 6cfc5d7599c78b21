"""`mmaudit score`: judge every product with the model that never trained on it, and look for exchanges.

The work is split by job: `models.judge` (mismatch logits of any text with any photo), `exchanges` (candidates, gains,
the catalog-wide matching), `flag_threshold` (the product's score and the threshold); this module runs them over the
catalog in resumable chunks and writes scores.parquet.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from . import distributed, models, reviews, schema
from .allocator import no_huge_pages
from .config import EngineConfig, ScoreConfig, as_dict
from .devices import pick_device
from .exchanges import EXCHANGES, candidates, exchange_gain, far_candidates, one_exchange_each, score_chunk, with_more_candidates
from .features import open_store, product_features
from .files import write_table
from .flag_threshold import calibrate, combine, robust_scales, simulate_swaps
from .metrics import sigmoid
from .models.judge import CatalogJudge, Judge
from .progress import bar, log

CHUNK = 1024  # products per resumable unit of work
CHUNK_FORMAT = 4  # what a finished chunk holds; raised when `score_chunk` changes, so an interrupted run's chunks are not reused


def settled_exchanges(judge: CatalogJudge, verdicts: pd.DataFrame, products: pd.DataFrame, own: np.ndarray) -> tuple[np.ndarray, dict]:
    """What the reviewers settled for the catalog-wide matching: per row, whether a reviewer judged the product, and the
    exchanges they named (a wrong photo and the product it belongs to): (row, row) -> (gain, logit of each text with
    the other's photo)."""
    row_of = {pid: r for r, pid in enumerate(products.product_id)}
    judged = np.isin(products.product_id.to_numpy(), verdicts.product_id.to_numpy())
    named = verdicts[(verdicts.verdict == reviews.WRONG) & verdicts.right_photo_of.isin(row_of)]
    i = named.product_id.map(row_of).to_numpy(np.int64)
    j = named.right_photo_of.map(row_of).to_numpy(np.int64)
    i_after, j_after = judge.logits(i, j), judge.logits(j, i)
    gains = exchange_gain(own[i], own[j], i_after, j_after)
    return judged, {(a, b): (g, x, y) for a, b, g, x, y in zip(i, j, gains, i_after, j_after)}


def _work_id(catalog_path: Path, model_path: Path, config: ScoreConfig) -> str:
    parts = [str(Path(catalog_path).resolve()), str(Path(catalog_path).stat().st_mtime_ns), str(Path(model_path).resolve()),
             str((Path(model_path) / "model.safetensors").stat().st_mtime_ns), str(config.candidates), str(config.far_candidates), f"chunks-{CHUNK_FORMAT}-{EXCHANGES}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class RayScorer:
    """A Ray actor holding a copy of the driver's judge (fold models, prepared features): chunk starts -> their scores."""

    def __init__(self, shared: list, cpus: float):
        distributed.worker_threads(cpus)
        job = distributed.shared_value(shared)
        self.judge = job["judge"].to(pick_device(job["device"]))
        self.cands, self.own, self.chunk = job["cands"], job["own"], job["chunk"]

    def __call__(self, batch: dict[str, np.ndarray]) -> pd.DataFrame:
        n = len(self.own)
        return pd.concat([score_chunk(self.judge, np.arange(s, min(s + self.chunk, n)), self.cands, self.own)
                          for s in batch["start"]], ignore_index=True)


def score_on_ray(engine: EngineConfig, job: dict, starts: list[int]) -> Iterator[tuple[int, pd.DataFrame]]:
    """(chunk start, its scores) for each chunk of `starts`, in the order they finish. `job` holds the judge,
    the device name, the candidates, the products' own logits and the chunk size; one chunk per Ray task."""
    blocks = [pd.DataFrame({"start": [s]}) for s in starts]
    chunk = job["chunk"]
    for frame in distributed.map_actors(engine, RayScorer, {"shared": distributed.share(engine, job)}, blocks, 1, "pandas"):
        for start, part in frame.groupby(frame.row // chunk * chunk, sort=True):
            yield int(start), part.reset_index(drop=True)


def _score_all(judge: CatalogJudge, cands: np.ndarray, own: np.ndarray, parts: Path, engine: EngineConfig, device: str) -> pd.DataFrame:
    """Score in chunks, each written to `parts` as it finishes; chunks already there (an interrupted run) are
    reused. The chunks are computed here, or on the Ray cluster by copies of this judge (on `device`, or a
    GPU an actor was given)."""
    parts.mkdir(parents=True, exist_ok=True)
    n = len(own)
    part = lambda start: parts / f"chunk-{start:012d}.parquet"  # noqa: E731
    starts = list(range(0, n, CHUNK))
    missing = [s for s in starts if not part(s).exists()]
    if engine.name == "ray" and missing:
        job = {"judge": judge, "device": device, "cands": cands, "own": own, "chunk": CHUNK}
        computed = score_on_ray(engine, job, missing)
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
    no_huge_pages()  # its large arrays are filled once each: a fresh huge page can cost more than the work
    catalog = schema.read(catalog_path, "catalog")
    fitted = Judge.load(model_path)
    products = schema.ok_products(catalog, catalog_path)
    verdicts = reviews.for_catalog(reviews.read_verdicts(list(reviewed)), products.product_id)
    feats = product_features(open_store(catalog_path, fitted.config["backbone"], cache_dir, engine), products,
                             tokens=models.reads_tokens(fitted.config["model"]))
    ids = products.product_id.to_numpy()
    judge = fitted.on(feats, products, pick_device(config.device), config.batch_size)
    feats = {name: feats[name] for name in ("photo", "text")}  # what the candidates' searches read; the judge prepared the rest
    rows = np.arange(len(ids))
    own_pairs = judge.pair_model_logits(rows, rows)  # each product with its own photo
    own_exchange, own_fit = judge.weighed(own_pairs, rows, rows), judge.weighed(own_pairs, rows, rows, "fit")
    near_partners = candidates(feats, config.candidates)
    del feats  # the judge holds what it prepared of them: the rest (every photo's vectors) goes before the pairs are scored
    partners = with_more_candidates(near_partners, far_candidates(judge, own_exchange, own_fit, config.far_candidates))
    parts = Path(out).with_name(f".{Path(out).name}.parts-{_work_id(catalog_path, model_path, config)}")
    scored = _score_all(judge, partners, own_exchange, parts, engine, config.device)
    scored = pd.concat([scored, one_exchange_each(scored, *settled_exchanges(judge, verdicts, products, own_exchange))], axis=1)

    pair_cal = fitted.calibration()
    pair_logit = own_fit[scored.row]
    scales = robust_scales(pair_logit, scored.counted_gain.to_numpy())
    observed = combine(pair_logit, scored.counted_gain.to_numpy(), scales)
    simulated = {kind: simulate_swaps(judge, near_partners, own_exchange, config.candidates, config.simulated_swaps, far=kind == "far")
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
    in_catalog = set(ids)  # numpy's isin of strings sorts both arrays: most of a second at 10,000 products
    named = np.array([name if name in in_catalog else "" for name in named], dtype=object)  # a reviewer's named product, where it is in the catalog
    photo_fits = np.where(scored.swap_partner >= 0, ids[scored.swap_partner.clip(0)], None)
    result = pd.DataFrame({
        "row_number": products.row_number.to_numpy()[scored.row], "mismatch_score": mismatch, "pair_score": sigmoid(pair_logit),
        "swap_gain": scored.counted_gain, "swap_with": np.where(scored.counted_partner >= 0, ids[scored.counted_partner.clip(0)], None),
        "photo_fits": np.where(named != "", named, photo_fits),
        "photo_fits_score": np.where(named != "", np.nan, 1 - sigmoid(scored.swap_logit)),
        "text_fits": np.where(scored.text_fits_row >= 0, ids[scored.text_fits_row.clip(0)], None),
        "text_fits_score": 1 - sigmoid(scored.text_fits_logit),
        "contradiction": judge.contradictions(scored.row.to_numpy()), "verdict": verdict,
    })
    result["flagged"] = ((result.mismatch_score >= threshold) & (verdict != reviews.OK)) | (verdict == reviews.WRONG)
    table = catalog.merge(result, on="row_number", how="left")  # by row: a duplicate id keeps its own status
    table["flagged"] = table.flagged.fillna(False).astype(bool)
    table["verdict"] = table.verdict.fillna("")
    table["model"] = fitted.name
    settings = {**as_dict(config), "threshold_used": threshold, "model_dir": str(Path(model_path).resolve()),
                "catalog": str(Path(catalog_path).resolve()), "calibration": cal, "pair_calibration": pair_cal}
    write_table(schema.to_table(table, "scores", settings), out)
    shutil.rmtree(parts, ignore_errors=True)
    log.info("scored %d products, %d flagged", len(result), int(result.flagged.sum()))
    summary = pd.DataFrame([("products", len(catalog)), ("scored", len(result)), ("flagged", int(result.flagged.sum())),
                            ("estimated share of mismatches", f"{cal['estimated_mismatch_share']:.1%}"),
                            ("threshold", f"{threshold:.4f}"), ("model", fitted.name)]
                           + ([("reviewed (wrong photo / ok)", f"{(verdict == reviews.WRONG).sum()} / {(verdict == reviews.OK).sum()}")]
                              if len(verdicts) else []), columns=["what", "value"])
    return Path(out), summary
