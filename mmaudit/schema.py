"""The columns of every file a stage writes, declared once and checked when the next stage reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import MMAuditError, SchemaError

SCHEMA_VERSION = 1
META_KEY = b"mmaudit"

# Status of a product after ingest: only `ok` products are scored; the others keep their reason.
STATUSES = (
    "ok", "missing_image", "unreadable_image", "image_too_large", "unsafe_path",
    "download_failed", "empty_text", "duplicate_id", "missing_id",
)

CATALOG = pa.schema([
    ("product_id", pa.string()),
    ("text", pa.string()),
    ("image_ref", pa.string()),
    ("image_path", pa.string()),
    ("image_sha256", pa.string()),
    ("image_phash", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("status", pa.string()),
    ("status_detail", pa.string()),
    ("row_number", pa.int64()),
])

PAIRS = pa.schema([
    ("text_product_id", pa.string()),
    ("photo_product_id", pa.string()),
    ("label", pa.int8()),
    ("kind", pa.string()),
    ("rank", pa.int32()),
    ("similarity", pa.float32()),
    ("fold", pa.int32()),
    ("split", pa.string()),
])

SCORES = pa.schema([
    ("product_id", pa.string()),
    ("status", pa.string()),
    ("mismatch_score", pa.float64()),
    ("pair_score", pa.float64()),
    ("swap_gain", pa.float64()),  # the exchange gain counted in mismatch_score
    ("swap_with", pa.string()),  # the product that exchange is with
    ("flagged", pa.bool_()),
    ("photo_fits", pa.string()),
    ("photo_fits_score", pa.float64()),
    ("text_fits", pa.string()),
    ("text_fits_score", pa.float64()),
    ("contradiction", pa.string()),
    ("verdict", pa.string()),  # a reviewer's: wrong_photo, ok, or "" (`--reviewed`)
    ("model", pa.string()),
])

PRODUCERS = {
    "catalog": "mmaudit ingest CATALOG -o catalog.parquet",
    "pairs": "mmaudit make-negatives catalog.parquet -o pairs.parquet",
    "scores": "mmaudit score catalog.parquet --model model/ -o scores.parquet",
}
SCHEMAS = {"catalog": CATALOG, "pairs": PAIRS, "scores": SCORES}


def with_metadata(table: pa.Table, kind: str, settings: dict) -> pa.Table:
    """Stamp a table with its kind, schema version and the settings that made it."""
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps({"kind": kind, "schema_version": SCHEMA_VERSION, "settings": settings}, default=str).encode()
    return table.replace_schema_metadata(meta)


def read_metadata(path: Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(META_KEY)
    return json.loads(raw) if raw else {}


def read(path: Path, kind: str) -> pd.DataFrame:
    """Read a stage file, checking that it is of the expected kind and has the declared columns."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such file; make it with `{PRODUCERS[kind]}`")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise SchemaError(f"{path}: not a Parquet file ({exc}); make it with `{PRODUCERS[kind]}`") from exc
    meta = read_metadata(path)
    found_kind = meta.get("kind")
    if found_kind and found_kind != kind:
        raise SchemaError(f"{path}: is a {found_kind} file, expected a {kind} file; make it with `{PRODUCERS[kind]}`")
    if meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise SchemaError(f"{path}: written by another mmaudit version (schema {meta.get('schema_version')}, "
                          f"this one reads {SCHEMA_VERSION}); rerun `{PRODUCERS[kind]}`")
    missing = [name for name in SCHEMAS[kind].names if name not in schema.names]
    if missing:
        raise SchemaError(f"{path}: missing columns {missing} (found {schema.names}); "
                          f"this file was not made by mmaudit or is from an old version; rerun `{PRODUCERS[kind]}`")
    return pq.read_table(path).to_pandas()


def to_table(df: pd.DataFrame, kind: str, settings: dict) -> pa.Table:
    """Build a table whose declared columns come first with their declared types; extra columns follow."""
    schema = SCHEMAS[kind]
    declared = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    extras = [c for c in df.columns if c not in schema.names]
    for name in extras:
        declared = declared.append_column(name, pa.array(df[name].tolist()))
    return with_metadata(declared, kind, settings)


def ok_products(catalog: pd.DataFrame, catalog_path: Path) -> pd.DataFrame:
    """The rows a model can score; an error when there are none."""
    ok = catalog[catalog.status == "ok"].reset_index(drop=True)
    if ok.empty:
        raise MMAuditError(f"{catalog_path}: no product has status ok ({catalog.status.value_counts().to_dict()}); "
                           "fix the photos or texts and rerun `mmaudit ingest`")
    return ok


MAX_ATTRIBUTE_VALUES = 200  # more distinct values than this is an identifier or free text, not an attribute


def detect_columns(catalog: pd.DataFrame, exclude: set[str]) -> list[str]:
    """The user's categorical columns: mostly filled, short values, 2..200 of them, not numbers."""
    found = []
    for column in catalog.columns:
        if column in exclude or column.startswith("is_") or column.endswith("_score"):
            continue
        values = catalog[column].astype(str).str.strip()
        filled = values[values != ""]
        if len(filled) < 0.5 * len(values) or not 2 <= filled.nunique() <= MAX_ATTRIBUTE_VALUES or filled.str.len().median() > 30:
            continue
        if pd.to_numeric(filled, errors="coerce").notna().mean() > 0.9:
            continue  # prices, years, sizes: ordered numbers, not classes
        found.append(column)
    return found
