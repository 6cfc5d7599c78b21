#!/usr/bin/env python3
"""Coverage-guided fuzzing (atheris) of what reads untrusted bytes: catalog files and photos.

    pip install atheris
    python bench/fuzz.py catalog -atheris_runs=0 -max_total_time=300 [corpus_dir]
    python bench/fuzz.py photo -max_total_time=300 [corpus_dir]

`catalog`: the bytes become a catalog file (.csv, .tsv, .jsonl or .parquet, picked by the first
byte) and go through `mmaudit ingest`'s reading and row handling: either every row comes out with
a status, or a CatalogError/ConfigError names the problem. `photo`: the bytes become a photo file
for `images.inspect`: either an RGB photo's facts or an ImageProblem. Anything else (another
exception, a row lost) is a finding: atheris stops and writes the input as crash-*; keep it as a
regression case in tests/test_fuzz_cases.py. Not run in CI (time-bounded, machine-dependent).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from PIL import Image

    from mmaudit import images, ingest
    from mmaudit.config import IngestConfig
    from mmaudit.errors import MMAuditError

FORMATS = (".csv", ".tsv", ".jsonl", ".parquet")
WORK = Path(tempfile.mkdtemp(prefix="mmaudit-fuzz-"))
Image.new("RGB", (16, 16), "red").save(WORK / "a.png")


def catalog_target(data: bytes) -> None:
    if not data:
        return
    path = WORK / f"catalog{FORMATS[data[0] % len(FORMATS)]}"
    path.write_bytes(data[1:])
    try:
        table, _ = ingest.build_table(path, IngestConfig(workers=1, download_workers=1, download_retries=0,
                                                         download_timeout_s=0.01), WORK / "downloads")
    except MMAuditError:
        return
    rows = ingest.read_catalog(path).shape[0]
    if len(table) != rows or table.status.isna().any():
        raise AssertionError(f"{rows} rows in, {len(table)} out, statuses {table.status.tolist()[:5]}")


def photo_target(data: bytes) -> None:
    path = WORK / "photo"
    path.write_bytes(data)
    try:
        info = images.inspect(path, max_bytes=1_000_000, max_pixels=4_000_000)
    except images.ImageProblem as problem:
        assert problem.status in {"unreadable_image", "image_too_large", "missing_image"}, problem.status
        return
    assert info.width * info.height <= 4_000_000


def main() -> None:
    targets = {"catalog": catalog_target, "photo": photo_target}
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: {sys.argv[0]} {{catalog|photo}} [libFuzzer options] [corpus_dir]")
    target = targets[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
