"""`mmaudit score CATALOG` with no model named: the model that belongs to the catalog, trained on it when there is none.

A catalog written by `ingest` belongs to its work folder: its model is that folder's `model/` (as `audit` leaves it).
A user's own catalog file (CSV/TSV/JSONL/Parquet) gets a work folder beside the output, `<catalog name>-work/`, where
`audit`'s first three stages run once (self-supervised, on the catalog itself) and are skipped when up to date, so a
second `score` reuses the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import audit, schema
from .errors import MMAuditError
from .progress import log, stderr


def is_ingested(catalog: Path) -> bool:
    """Whether `catalog` is a catalog.parquet written by `mmaudit ingest` (not a user's own Parquet catalog)."""
    if Path(catalog).suffix.lower() != ".parquet" or not Path(catalog).is_file():
        return False
    try:
        return schema.read_metadata(catalog).get("kind") == "catalog"
    except MMAuditError:
        return False


def default_output(catalog: Path) -> Path:
    """scores.parquet beside an ingested catalog; `<name>.scores.parquet` beside a user's own catalog file."""
    catalog = Path(catalog)
    return catalog.with_name("scores.parquet") if is_ingested(catalog) else catalog.with_name(f"{catalog.stem}.scores.parquet")


def resolve(catalog: Path, model: Path | None, out: Path, configs: dict[str, Any], reviewed: list[Path] = ()) -> tuple[Path, Path]:
    """(catalog.parquet, model directory) to score `catalog` with. An ingested catalog is scored with `model`, else
    with its work folder's model/. A user's own catalog file is ingested into `<name>-work/` beside `out` and scored
    with `model`, else with a model trained there on the catalog itself (said on stderr; `reviewed`: verdicts it
    learns from)."""
    catalog = Path(catalog)
    if is_ingested(catalog):
        if model is not None:
            return catalog, Path(model)
        found = catalog.parent / "model"
        if (found / "config.json").is_file():
            log.info("scoring with %s, the model of this catalog's work folder", found)
            return catalog, found
        raise MMAuditError(f"{catalog}: no model in its work folder ({found}); train one with `mmaudit audit` or "
                           "`mmaudit make-negatives` + `mmaudit train`, or name one with -m")
    work = Path(out).parent / f"{catalog.stem}-work"
    if model is None:
        stderr.print(f"no model named: training one on {catalog} itself in {work} (reused by the next run; -m to use another)")
    paths = audit.run(catalog, work, configs, until="ingest" if model is not None else "train",
                      announce=lambda stage, state: stderr.print(f"[bold]{stage}[/bold]: {state}"), reviewed=reviewed)
    return paths["ingest"], Path(model) if model is not None else paths["train"]
