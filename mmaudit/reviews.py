"""Reviewers' verdicts: the report's review.csv, filled in, read back by `train`, `score` and `audit` (`--reviewed`).

A verdict says of one product either `wrong_photo` (its photo is wrong; `right_photo_of` may name the product whose
photo it is) or `ok` (its photo is right). An empty verdict or `unsure` says nothing. Case, spaces and hyphens are
forgiven ("Wrong photo", "OK"). Several files accumulate in the order given: a later verdict on the same product wins,
and an empty or `unsure` one never undoes an earlier one.

What the verdicts change:
- `train`: a product confirmed wrong is no match to learn from: the pair of its text with its own photo becomes a
  labelled mismatch, and the claim heads never learn from it; with `right_photo_of`, that product's text and this photo
  become a labelled match. A product confirmed right is never left out as suspicious.
- `score`: a confirmed product keeps its verdict (`verdict`, `flagged` as the reviewer said, `photo_fits` as the
  reviewer named it), and the flag threshold is checked against the reviewed products where they cover it
  (`threshold_from_verdicts`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MMAuditError
from .progress import log

WRONG, OK = "wrong_photo", "ok"
SAYS_NOTHING = ("", "unsure")
MIN_REVIEWED = 20  # reviewed products above a threshold before their verdicts may move it
COVERED = 0.8  # ... and the share of the products above it that they must be


def _verdict(value: str) -> str:
    return "_".join(str(value).strip().lower().replace("-", " ").split())


def read_verdicts(paths: list[Path]) -> pd.DataFrame:
    """The verdicts of review files, later files and rows winning: columns product_id, verdict (wrong_photo or ok),
    right_photo_of ("" when not named), one row per product, in the order of product_id (the same verdicts, the same
    table, whatever order the files list them in)."""
    frames = []
    for path in map(Path, paths):
        if not path.is_file():
            raise MMAuditError(f"{path}: no such review file; pass the review.csv a report wrote (with its verdict column filled in)")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise MMAuditError(f"{path}: cannot be read as CSV ({exc}); save it as CSV with a header row") from exc
        missing = [c for c in ("product_id", "verdict") if c not in frame.columns]
        if missing:
            raise MMAuditError(f"{path}: no column(s) {missing} (found {list(frame.columns)}); a review file needs "
                               "product_id and verdict, as the report's review.csv has")
        verdicts = frame.verdict.map(_verdict)
        bad = ~verdicts.isin([WRONG, OK, *SAYS_NOTHING])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise MMAuditError(f"{path}, row {row + 2} (product {frame.product_id.iloc[row]!r}): verdict {frame.verdict.iloc[row]!r} "
                               f"is not one of {WRONG}, {OK}, unsure or empty; fix that cell ({int(bad.sum())} such row(s) in all)")
        right = frame.right_photo_of.str.strip() if "right_photo_of" in frame.columns else pd.Series("", index=frame.index)
        said = verdicts.isin([WRONG, OK]).to_numpy()
        frames.append(pd.DataFrame({"product_id": frame.product_id.str.strip()[said], "verdict": verdicts[said],
                                    "right_photo_of": right.where(verdicts == WRONG, "")[said]}))
    every = pd.concat(frames + [pd.DataFrame(columns=["product_id", "verdict", "right_photo_of"])], ignore_index=True)
    return every.drop_duplicates("product_id", keep="last").sort_values("product_id").reset_index(drop=True)


def for_catalog(verdicts: pd.DataFrame, product_ids: pd.Series) -> pd.DataFrame:
    """The verdicts on products of this catalog; those on other products are logged (not an error: a catalog changes
    between audits)."""
    known = verdicts.product_id.isin(set(product_ids))
    if (~known).any():
        log.warning("%d verdict(s) name products not in the catalog (e.g. %s): ignored", int((~known).sum()),
                    verdicts.product_id[~known].head(3).tolist())
    return verdicts[known].reset_index(drop=True)


def per_product(verdicts: pd.DataFrame, product_ids: pd.Series, column: str = "verdict") -> np.ndarray:
    """`column` of the verdict on each of `product_ids` ("" for a product without one)."""
    given = dict(zip(verdicts.product_id, verdicts[column]))
    return np.array([given.get(pid, "") for pid in product_ids], dtype=object)


def threshold_from_verdicts(scores: np.ndarray, reviewed: np.ndarray, wrong: np.ndarray, threshold: float,
                            target_precision: float) -> tuple[float, dict]:
    """The flag threshold, checked against the verdicts. `scores`: every product's mismatch score; `reviewed`, `wrong`:
    per product, whether it has a verdict and whether that verdict is wrong_photo. Where the reviewed products are most
    (`COVERED`) of the products scoring at or above `threshold`, and at least `MIN_REVIEWED`, their verdicts measure the
    precision of its flags: the threshold becomes the lowest score, among thresholds they cover so, whose reviewed
    products are at least `target_precision` wrong (none: above every score). Elsewhere the threshold stays: a
    sample of the top suspects says nothing of the products below it.

    Returns the threshold and what the verdicts showed (for the report)."""
    order = np.argsort(-scores, kind="stable")
    above = np.arange(1, len(order) + 1)
    reviewed_above = np.cumsum(reviewed[order])
    wrong_above = np.cumsum(wrong[order] & reviewed[order])
    covered = (reviewed_above >= MIN_REVIEWED) & (reviewed_above >= COVERED * above)
    precision = wrong_above / np.maximum(reviewed_above, 1)
    seen = {"reviewed": int(reviewed.sum()), "reviewed_wrong": int((wrong & reviewed).sum()),
            "reviewed_precision": float((wrong & reviewed).sum() / max(reviewed.sum(), 1))}
    at = int(np.searchsorted(-scores[order], -threshold, side="right")) - 1  # the last product at or above the threshold
    if at < 0 or not covered[at]:
        return threshold, {**seen, "moved": False}
    good = np.flatnonzero(covered & (precision >= target_precision))
    new = float(scores[order][good.max()]) if len(good) else float(np.nextafter(scores.max(), np.inf))
    return new, {**seen, "moved": True, "precision_at_threshold": float(precision[good.max()]) if len(good) else None}
