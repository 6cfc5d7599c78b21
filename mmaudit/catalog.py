"""Read a user's catalog file (CSV, TSV, JSON Lines, Parquet) into a table of strings, naming what is wrong."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pandas as pd

from .errors import CatalogError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def detect_format(path: Path, given: str = "") -> str:
    if given:
        if given not in set(FORMATS.values()):
            raise CatalogError(f"--format {given!r}: use one of csv, tsv, jsonl, parquet")
        return given
    found = FORMATS.get(path.suffix.lower())
    if not found:
        raise CatalogError(f"{path}: cannot tell the format from the extension {path.suffix!r}; "
                           "use .csv, .tsv, .jsonl or .parquet, or pass --format")
    return found


def read_catalog(path: Path, fmt: str = "") -> pd.DataFrame:
    """Every cell as text (empty string for missing), rows in file order."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: no such catalog file")
    kind = detect_format(path, fmt)
    if path.stat().st_size == 0:
        raise CatalogError(f"{path}: empty file; a catalog needs a header row and one row per product")
    try:
        if kind in ("csv", "tsv"):
            sep = "," if kind == "csv" else "\t"
            _check_header(path, sep)
            with warnings.catch_warnings():  # a row longer than the header would shift every column (found by bench/fuzz.py)
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig", index_col=False)
                except pd.errors.ParserWarning:
                    _raise_long_row(path, sep)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start}); re-save the file as UTF-8") from exc
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        raise CatalogError(f"{path}: cannot be read as {kind} ({str(exc).splitlines()[0]})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise CatalogError(f"{path}: no rows (columns {list(frame.columns)}); nothing to audit")
    return frame.apply(lambda col: col.map(_as_text)).reset_index(drop=True) if len(frame) else frame.astype(str)


def _check_header(path: Path, sep: str) -> None:
    """pandas would silently rename a repeated column ("title", "title.1"): refuse it instead."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = [name.strip() for name in next(csv.reader(handle, delimiter=sep), [])]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise CatalogError(f"{path}: duplicate column name(s) {repeated} in the header; give each column its own name")


def _raise_long_row(path: Path, sep: str) -> None:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter=sep)
        width = len(next(rows, []))
        for number, row in enumerate(rows, start=2):
            if len(row) > width:
                raise CatalogError(f"{path}: record {number} has {len(row)} fields, the header {width}; "
                                   "quote fields that contain the separator")
    raise CatalogError(f"{path}: a record has more fields than the header; quote fields that contain the separator")


def _as_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
