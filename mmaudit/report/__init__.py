"""`mmaudit report`: an HTML page that opens from disk (thumbnails, plots, sortable suspects) and CSV files."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..checks import issue_columns
from ..config import ReportConfig
from ..errors import MMAuditError
from ..files import atomic_path, write_text
from ..images import ImageProblem, thumbnail
from ..progress import bar
from . import plots

# Columns that are the tool's own, not the user's attributes.
OWN_COLUMNS = set(schema.CATALOG.names) | set(schema.SCORES.names) | {"pixel_std", "row_number"}
FINDINGS = [("Broken or unreadable photos", lambda t: t.status != "ok", "status_detail"),
            ("Photos shared by several products", lambda t: t.get("is_duplicate_photo_issue", False) == True, None),  # noqa: E712
            ("Near-duplicate photos", lambda t: t.get("is_near_duplicate_photo_issue", False) == True, None),  # noqa: E712
            ("Blank photos", lambda t: t.get("is_blank_photo_issue", False) == True, None)]  # noqa: E712
FINDINGS_SHOWN = 500


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{share:.1%}"


def _titles(frame: pd.DataFrame, text_cols: list[str]) -> pd.Series:
    """Each row's title: its first non-empty text column, title first, else what the models read (300 characters)."""
    out = frame["text"].astype(str) if "text" in frame.columns else pd.Series("", index=frame.index)
    for column in reversed(("title", *text_cols)):
        if column in frame.columns:
            values = frame[column]
            out = values.where(values.map(lambda v: isinstance(v, str) and v != ""), out)
    return out.str.slice(0, 300)


def _why(row: pd.Series, checks: list[str]) -> list[str]:
    reasons = []
    if row.get("contradiction"):
        reasons.append(f"the photo contradicts the text: {row['contradiction']}")
    if pd.notna(row.get("pair_score")):
        reasons.append(f"photo and text disagree: pair score {row['pair_score']:.3f}")
    if pd.notna(row.get("swap_gain")) and row["swap_gain"] > 0 and row.get("swap_with"):
        reasons.append(f"exchanging photos with {row['swap_with']} makes both fit better (gain {row['swap_gain']:.2f})")
    if row.get("text_fits") and pd.notna(row.get("text_fits_score")):
        reasons.append(f"this photo best fits the text of {row['text_fits']} ({row['text_fits_score']:.2f})")
    reasons += [f"check: {c}" for c in checks if row.get(f"is_{c}_issue")]
    return reasons


THUMB_WORKERS = 4  # thumbnails written at a time: decoding, resizing and encoding a photo release Python's lock


class Thumbs:
    """Thumbnails written once per photo (keyed by SHA-256) into report/thumbs/."""

    def __init__(self, folder: Path, size: int):
        self.folder, self.size = folder, size
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, path: str, sha: str) -> str | None:
        if not path or not sha:
            return None
        name = f"{sha[:32]}.jpg"
        target = self.folder / name
        if not target.exists():
            try:
                with atomic_path(target) as tmp:
                    thumbnail(Path(path), tmp, self.size)
            except (ImageProblem, OSError):
                return None
        return f"thumbs/{name}"

    def get_all(self, photos: list[tuple[str, str]], done: Callable[[], None]) -> dict[tuple[str, str], str | None]:
        """`get` of each (path, sha), `THUMB_WORKERS` at a time; `done()` after each."""
        unique = list(dict.fromkeys(photos))

        def one(photo: tuple[str, str]) -> str | None:
            out = self.get(*photo)
            done()
            return out

        with ThreadPoolExecutor(THUMB_WORKERS) as pool:
            return dict(zip(unique, pool.map(one, unique)))


def _truth_labels(truth: Path, table: pd.DataFrame) -> np.ndarray:
    frame = pd.read_csv(truth, dtype=str, keep_default_na=False)
    if not {"product_id", "swapped"} <= set(frame.columns):
        raise MMAuditError(f"{truth}: needs columns product_id and swapped (0/1); found {list(frame.columns)}")
    swapped = dict(zip(frame.product_id, frame.swapped == "1"))
    return np.array([swapped.get(pid, False) for pid in table.product_id], dtype=int)


def run(scores_path: Path, out_dir: Path, config: ReportConfig | None = None, truth: Path | None = None) -> Path:
    """Write index.html, thumbs/, scores.csv and review.csv into `out_dir`; return the HTML path."""
    config = config or ReportConfig()
    out_dir = Path(out_dir)
    table = schema.read(scores_path, "scores")
    meta = schema.read_metadata(scores_path).get("settings", {})
    catalog_meta = schema.read_metadata(Path(meta["catalog"])).get("settings", {}) if meta.get("catalog") and Path(meta["catalog"]).exists() else {}
    text_cols = catalog_meta.get("text_cols", ["title", "description"])
    checks = [c.removeprefix("is_").removesuffix("_issue") for c in issue_columns(list(table.columns))]
    attributes = schema.detect_columns(table, OWN_COLUMNS | set(text_cols))[:12]  # the same columns the model checks
    threshold = float(meta.get("threshold_used", 0.5))
    calibration = meta.get("calibration", {})

    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = table.sort_values(["mismatch_score", "row_number"], ascending=[False, True], na_position="last")
    scored = ordered[ordered.mismatch_score.notna()]
    reviewed = scored.get("verdict", pd.Series("", index=scored.index)).fillna("") != ""
    in_order = pd.concat([scored[~reviewed], scored[reviewed]])  # new suspects first; reviewed products are not listed again as new
    suspects = pd.concat([scored[~reviewed].head(config.max_suspects), scored[reviewed]])
    by_id = table.drop_duplicates("product_id").set_index("product_id")
    titles = _titles(suspects, text_cols)
    thumbs = Thumbs(out_dir / "thumbs", config.thumb_size)
    fits_rows = {rank: by_id.loc[fits] for rank, fits in enumerate(suspects.get("photo_fits", pd.Series(dtype=object)))
                 if isinstance(fits, str) and fits in by_id.index}
    photos = [(row.image_path, row.image_sha256) for row in suspects.itertuples()]
    photos += [(fits_row.image_path, fits_row.image_sha256) for fits_row in fits_rows.values()]
    with bar() as progress:
        task = progress.add_task("report thumbnails", total=len(set(photos)), rate="")
        thumb = thumbs.get_all(photos, lambda: progress.advance(task))
    rows = []
    for rank, (_, row) in enumerate(suspects.iterrows()):
        fits_row = fits_rows.get(rank)
        rows.append({
            "rank": rank + 1, "product_id": row.product_id, "title": titles[row.name],
            "attrs": {a: str(row[a])[:60] for a in attributes if str(row[a])},
            "mismatch_score": float(row.mismatch_score), "flagged": bool(row.flagged), "verdict": row.get("verdict") or "",
            "thumb": thumb[row.image_path, row.image_sha256],
            "photo_fits": row.photo_fits if fits_row is not None else None,
            "fits_thumb": thumb[fits_row.image_path, fits_row.image_sha256] if fits_row is not None else None,
            "why": _why(row, checks), "checks": [c for c in checks if row.get(f"is_{c}_issue")],
        })

    findings = []
    for title, select, detail in FINDINGS:
        chosen = table[select(table).to_numpy(dtype=bool)]
        findings.append({"title": title, "more": max(0, len(chosen) - FINDINGS_SHOWN), "rows": [
            {"product_id": r.product_id, "detail": (r[detail] if detail else f"photo {r.image_ref}")[:300]}
            for _, r in chosen.head(FINDINGS_SHOWN).iterrows()]})

    status_counts = table.status.value_counts()
    cards = [("products read", len(table)), ("scored", int(table.mismatch_score.notna().sum())),
             ("flagged", int(table.flagged.sum()))]
    cards += [(f"status {s}", int(n)) for s, n in status_counts.items() if s != "ok"]
    cards += [(c.replace("_", " "), int(table[f"is_{c}_issue"].sum())) for c in checks]
    data = {
        "source": f"{scores_path}", "cards": cards, "attributes": attributes, "checks": checks, "rows": rows, "findings": findings,
        "model_line": (f"model {table.model.iloc[0] if len(table) else '-'}; threshold {threshold:.3f} on the mismatch score, "
                       f"chosen for precision {calibration.get('target_precision', '?')} at an estimated mismatch share of "
                       f"{_percent(calibration.get('mismatch_share'))} of the catalog"),
        "suspect_note": (f"The {len(rows) - int(reviewed.sum())} highest-scoring of {len(scored) - int(reviewed.sum())} scored products "
                         f"no reviewer has judged are listed here ({_verdict_line(scored[reviewed], calibration)}); every product is in "
                         "scores.csv beside this page, and in review.csv in this order, to fill in."),
    }
    plot_html = plots.histogram(table.mismatch_score.to_numpy(dtype=float), threshold)
    if truth:
        plot_html += plots.pr_curve(_truth_labels(Path(truth), scored), scored.mismatch_score.to_numpy(dtype=float), threshold)
    blob = json.dumps(data, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    template = (resources.files(__package__) / "template.html").read_text(encoding="utf-8")
    html_path = write_text(template.replace("__PLOTS__", plot_html).replace("__DATA__", blob), out_dir / "index.html")

    export = table.drop(columns=["pixel_std"], errors="ignore")
    with atomic_path(out_dir / "scores.csv") as tmp:
        export.to_csv(tmp, index=False)
    with atomic_path(out_dir / "review.csv") as tmp:
        review_sheet(in_order, by_id, text_cols).to_csv(tmp, index=False)
    return html_path


def review_sheet(in_order: pd.DataFrame, by_id: pd.DataFrame, text_cols: list[str]) -> pd.DataFrame:
    """review.csv: every scored product in the report's order, with its title and the suggested right photo's product,
    and the verdicts given so far filled in (`mmaudit ... --reviewed review.csv` reads them back)."""
    verdict = in_order.get("verdict", pd.Series("", index=in_order.index)).fillna("")
    named = (verdict == "wrong_photo") & in_order.photo_fits.notna() & in_order.photo_fits_score.isna()  # a reviewer named it
    titles = _titles(by_id, text_cols).map(_inert)
    return pd.DataFrame({
        "rank": np.arange(1, len(in_order) + 1), "product_id": in_order.product_id, "title": in_order.product_id.map(titles),
        "mismatch_score": in_order.mismatch_score.round(4), "flagged": in_order.flagged,
        "photo_fits": in_order.photo_fits, "photo_fits_title": in_order.photo_fits.map(titles),
        "verdict": verdict, "right_photo_of": in_order.photo_fits.where(named, ""), "note": ""})


def _inert(text: str) -> str:
    """A catalog's text as a spreadsheet cell that is never run: one starting like a formula gets a leading quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _verdict_line(reviewed: pd.DataFrame, calibration: dict) -> str:
    """What the reviewers' verdicts say, for the page."""
    if not len(reviewed):
        return "no verdicts yet: fill in review.csv and pass it with --reviewed"
    wrong = int((reviewed.verdict == "wrong_photo").sum())
    line = f"{len(reviewed)} reviewed: {wrong} wrong photo, {len(reviewed) - wrong} ok, a precision of {wrong / len(reviewed):.0%}"
    if calibration.get("verdicts", {}).get("moved"):
        line += "; the flag threshold was set from the verdicts"
    return line
