"""Atomic file writes: a reader never sees a half-written file under its final name."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import MMAuditError


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it into place only if the block succeeds."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MMAuditError(f"{final.parent}: cannot create the output folder ({exc.strerror}); choose a writable -o path") from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except OSError as exc:  # a full disk, a vanished folder: the earlier file stays as it was
        tmp_path.unlink(missing_ok=True)
        raise MMAuditError(f"{final}: could not be written ({exc.strerror or exc}); any earlier {final.name} is unchanged; "
                           "free space or choose another -o path") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


MIN_FREE_BYTES = 200 * 2**20


def check_output(final: Path) -> None:
    """Before long work: the output's folder can be made and written to, and has some room."""
    folder = Path(final).absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".mmaudit-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise MMAuditError(f"{folder}: cannot write the output there ({exc.strerror or exc}); choose a writable -o path") from exc
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise MMAuditError(f"{folder}: only {free // 2**20} MiB free, mmaudit needs at least {MIN_FREE_BYTES // 2**20} MiB "
                           "for its outputs and temporary files; free space or choose another -o path")


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; it replaces `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_table(table: pa.Table, path: Path) -> Path:
    """Write a Parquet table atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def write_json(data: dict, path: Path) -> Path:
    """Write JSON atomically, keys sorted so reruns give identical files."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
