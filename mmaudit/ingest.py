"""`mmaudit ingest`: validate and normalise a catalog, resolve and hash every photo, run the basic checks."""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from itertools import repeat
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from . import checks, schema
from .catalog import read_catalog
from .config import IngestConfig, as_dict
from .download import fetch_all
from .errors import CatalogError
from .files import write_table
from .images import ImageProblem, PhotoInfo, inspect
from .progress import bar, log

DEFAULT_TEXT_COLS = ("title", "description")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Drop control characters and fold white space: the text the models read."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", value)).strip()


def compose_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    parts = [frame[c].map(clean_text) for c in columns]
    return pd.Series([". ".join(p for p in row if p) for row in zip(*parts)], index=frame.index, dtype=object)


def resolve_local(ref: str, root: Path) -> Path:
    """A photo path from the catalog, which must stay inside the images root after links are followed."""
    if "\x00" in ref:  # no file system takes it (found by bench/fuzz.py)
        raise ImageProblem("unsafe_path", f"{ref[:80]!r}: a NUL character in a photo path; fix the image column")
    candidate = Path(ref) if Path(ref).is_absolute() else root / ref
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        raise ImageProblem("unsafe_path", f"{ref!r} resolves outside the images root {root}; "
                                          "move the photo inside it or set --images-root")
    return resolved


def _choose_text_cols(frame: pd.DataFrame, config: IngestConfig, path: Path) -> list[str]:
    if config.text_cols:
        missing = [c for c in config.text_cols if c not in frame.columns]
        if missing:
            raise CatalogError(f"{path}: no text column(s) {missing}; columns are {list(frame.columns)}; fix --text-cols")
        return list(config.text_cols)
    found = [c for c in DEFAULT_TEXT_COLS if c in frame.columns]
    if not found:
        raise CatalogError(f"{path}: no title or description column; columns are {list(frame.columns)}; "
                           "name the text columns with --text-cols")
    return found


def _require(frame: pd.DataFrame, column: str, option: str, path: Path) -> None:
    if column not in frame.columns:
        raise CatalogError(f"{path}: no column {column!r}; columns are {list(frame.columns)}; set {option}")


def _base_table(raw: pd.DataFrame, config: IngestConfig, text_cols: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({
        "product_id": raw[config.id_col].map(clean_text),
        "text": compose_text(raw, text_cols),
        "image_ref": raw[config.image_col].str.strip(),
    })
    out["image_path"] = ""
    out["image_sha256"] = ""
    out["image_phash"] = ""
    out["width"] = 0
    out["height"] = 0
    out["pixel_std"] = np.nan
    out["status"] = "ok"
    out["status_detail"] = ""
    out["row_number"] = np.arange(len(raw), dtype=np.int64) + 1
    out.loc[out.product_id == "", ["status", "status_detail"]] = ["missing_id", f"empty {config.id_col}"]
    dup = out.product_id.duplicated(keep="first") & (out.product_id != "")
    first_row = out.groupby("product_id").row_number.transform("min")
    out.loc[dup, "status"] = "duplicate_id"
    out.loc[dup, "status_detail"] = "same id as row " + first_row[dup].astype(str)
    return out


def _set_problem(table: pd.DataFrame, row: int, problem: ImageProblem) -> None:
    if table.at[row, "status"] == "ok":
        table.at[row, "status"] = problem.status
        table.at[row, "status_detail"] = problem.detail


def _resolve_photos(table: pd.DataFrame, root: Path, config: IngestConfig, cache_dir: Path) -> None:
    urls, local = {}, {}
    for row, ref in table.image_ref.items():
        if not ref:
            _set_problem(table, row, ImageProblem("missing_image", "no photo given"))
            continue
        scheme = urlparse(ref).scheme.lower()
        if scheme in ("http", "https"):
            urls.setdefault(ref, []).append(row)
        elif len(scheme) > 1:  # one letter is a Windows drive
            _set_problem(table, row, ImageProblem("unsafe_path", f"{ref[:80]!r}: scheme {scheme!r} is not allowed; use a path or http(s) URL"))
        else:
            try:
                local[row] = str(resolve_local(ref, root))
            except ImageProblem as problem:
                _set_problem(table, row, problem)
    if local:  # one assignment: a row at a time, pandas' indexing took a tenth of ingest
        table.loc[list(local), "image_path"] = list(local.values())
    if not urls:
        return
    with bar() as progress:
        task = progress.add_task("downloading photos", total=len(urls), rate="")
        results = fetch_all(list(urls), cache_dir, config.download_timeout_s, config.download_retries,
                            config.max_image_bytes, config.download_workers, lambda: progress.advance(task))
    for url, result in results.items():
        for row in urls[url]:
            if isinstance(result, Path):
                table.at[row, "image_path"] = str(result)
            else:
                _set_problem(table, row, ImageProblem("download_failed", str(result)))


INSPECT_BATCH = 64  # photos a reading process is handed at once


def inspect_batch(paths: list[str], max_bytes: int, max_pixels: int) -> list[PhotoInfo | tuple[str, str]]:
    """Each photo's facts, or (status, detail) of why it cannot be used: plain values, sent back from a process."""
    out: list[PhotoInfo | tuple[str, str]] = []
    for path in paths:
        try:
            out.append(inspect(Path(path), max_bytes, max_pixels))
        except ImageProblem as problem:
            out.append((problem.status, problem.detail))
    return out


def photo_readers(workers: int, photos: int) -> AbstractContextManager[ProcessPoolExecutor | None]:
    """Where the photos are read: processes (`workers`, 0: one per CPU core), or None: this process, where one would do.
    Threads held each other up on the interpreter's lock between the decoding and hashing calls: on 2 cores, 4 threads
    read the shared catalog's photos in 12.7 s, 2 processes in 6.7 s (bench/ingest_speed.py). Started afresh ("spawn"),
    not forked from a process whose progress bar runs a thread of its own."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or photos <= INSPECT_BATCH:
        return nullcontext()
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def read_batches(batches: list[list[str]], workers: int, limits: tuple[int, int]) -> Iterator[list[PhotoInfo | tuple[str, str]]]:
    """`inspect_batch` of each batch of photo paths, in order, where `photo_readers` says; the batches left when a
    reading process dies (a decoder crashing on a file, the kernel ending it for memory) are read in this process."""
    given = 0
    try:
        with photo_readers(workers, sum(map(len, batches))) as pool:
            for batch in (pool.map if pool else map)(inspect_batch, batches, *(repeat(limit) for limit in limits)):
                given += 1
                yield batch
    except BrokenProcessPool as exc:
        log.warning("a process reading photos ended (%s): the %d photos left are read in this process", exc,
                    sum(map(len, batches[given:])))
        for batch in batches[given:]:
            yield inspect_batch(batch, *limits)


def _inspect_photos(table: pd.DataFrame, config: IngestConfig) -> None:
    found = table.image_path[table.image_path != ""]
    rows, paths = list(found.index), list(found)
    batches = [paths[s:s + INSPECT_BATCH] for s in range(0, len(paths), INSPECT_BATCH)]
    read: dict[int, PhotoInfo] = {}
    start, done = time.perf_counter(), 0
    with bar() as progress:
        task = progress.add_task("reading photos", total=len(rows), rate="")
        for batch in read_batches(batches, config.workers, (config.max_image_bytes, config.max_image_pixels)):
            for row, info in zip(rows[done:done + len(batch)], batch):
                if isinstance(info, PhotoInfo):
                    read[row] = info
                else:
                    _set_problem(table, row, ImageProblem(*info))
            done += len(batch)
            progress.update(task, advance=len(batch), rate=f"{done / max(time.perf_counter() - start, 1e-9):.0f}/s")
    if read:  # one assignment per column: a row at a time, pandas' indexing took a fifth of ingest
        positions, infos = list(read), list(read.values())
        for column, field in (("width", "width"), ("height", "height"), ("image_sha256", "sha256"),
                              ("image_phash", "phash"), ("pixel_std", "pixel_std")):
            table.loc[positions, column] = [getattr(info, field) for info in infos]


def build_table(catalog_path: Path, config: IngestConfig, cache_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every row of a catalog file with its status, photo facts and checks; and the text columns used."""
    catalog_path = Path(catalog_path)
    raw = read_catalog(catalog_path, config.format)
    _require(raw, config.id_col, "--id-col", catalog_path)
    _require(raw, config.image_col, "--image-col", catalog_path)
    text_cols = _choose_text_cols(raw, config, catalog_path)
    root = Path(config.images_root or catalog_path.parent).resolve()
    log.info("ingest %s: %d rows, text from %s, photos under %s", catalog_path, len(raw), text_cols, root)

    table = _base_table(raw, config, text_cols)
    _resolve_photos(table, root, config, cache_dir)
    _inspect_photos(table, config)
    table.loc[(table.text == "") & (table.status == "ok"), ["status", "status_detail"]] = ["empty_text", f"no text in {text_cols}"]
    table = checks.run_all(table, config)

    for column in raw.columns:
        if column != config.id_col:  # kept as they are; a name the schema uses gets an `input_` prefix
            table[column if column not in table.columns else f"input_{column}"] = raw[column].to_numpy()
    return table, text_cols


def run(catalog_path: Path, out: Path, config: IngestConfig | None = None) -> tuple[Path, pd.DataFrame]:
    """Ingest a catalog file; return the written catalog.parquet and a summary table."""
    config = config or IngestConfig()
    cache_dir = Path(config.cache_dir) if config.cache_dir else Path(out).parent / "downloads"
    table, text_cols = build_table(catalog_path, config, cache_dir)
    settings = {**as_dict(config), "text_cols": text_cols, "catalog": str(Path(catalog_path).resolve())}
    write_table(schema.to_table(table, "catalog", settings), out)
    return Path(out), summarize(table)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Rows read, each status and each check's count, as a two-column table."""
    rows = [("rows read", len(table))]
    rows += [(f"status {s}", int(n)) for s, n in table.status.value_counts().items()]
    rows += [(c.removeprefix("is_").removesuffix("_issue"), int(table[c].sum())) for c in checks.issue_columns(list(table.columns))]
    return pd.DataFrame(rows, columns=["what", "count"])
