#!/usr/bin/env python3
"""`mmaudit ingest`'s reading of the photos (decoded at the checks' size, hashed, pHash, spread) on
../shared/datasets/myntra-fashion (9,583 photos): in threads of this process (the way before, 4 threads) against in
processes as shipped (`ingest.photo_readers`, one per CPU core), side by side; then the whole command at the default.

    python bench/ingest_speed.py [--repeats 2] [--threads 4]

The two ways alternate `--repeats` times and must give the same facts of every photo; prints the seconds of each, the
best of each, their ratio, and the whole `mmaudit ingest` once. Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

import pandas as pd

from mmaudit.config import IngestConfig
from mmaudit.ingest import INSPECT_BATCH, inspect_batch, photo_readers

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


def in_threads(paths: list[str], threads: int, limits: tuple[int, int]) -> list:
    """The way before: each photo read by one of `threads` threads of this process."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [facts for batch in pool.map(inspect_batch, [[p] for p in paths], *(repeat(v) for v in limits)) for facts in batch]


def in_processes(paths: list[str], limits: tuple[int, int]) -> list:
    """As shipped: batches of `INSPECT_BATCH` photos read by one process per CPU core."""
    batches = [paths[s:s + INSPECT_BATCH] for s in range(0, len(paths), INSPECT_BATCH)]
    with photo_readers(0, len(paths)) as pool:
        return [facts for batch in pool.map(inspect_batch, batches, *(repeat(v) for v in limits)) for facts in batch]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="threads of the way before (its default)")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    paths = [str(DATA / p) for p in pd.read_csv(DATA / "products.csv", dtype=str).image]
    limits = (IngestConfig().max_image_bytes, IngestConfig().max_image_pixels)
    ways = {f"{a.threads} threads": lambda: in_threads(paths, a.threads, limits), f"{os.cpu_count()} processes": lambda: in_processes(paths, limits)}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    facts = {}
    for _ in range(a.repeats):
        for way, read in ways.items():
            start = time.perf_counter()
            facts[way] = read()
            seconds[way].append(time.perf_counter() - start)
    before, shipped = facts.values()
    assert before == shipped, "the two ways read different facts"
    best = {way: min(runs) for way, runs in seconds.items()}
    (slow, fast) = best.values()
    print(f"{len(paths)} photos; seconds per way: {seconds}; best: {best}; **{fast / slow:.2f}x** (the same facts)")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mmaudit.cli", "ingest", str(DATA / "products.csv"), "-o", f"{tmp}/catalog.parquet"],
                       check=True, capture_output=True)
        whole = time.perf_counter() - start
    print(f"`mmaudit ingest` at the default: {whole:.1f} s, {len(paths) / whole:.0f} rows/s")
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "cpus": os.cpu_count(), "photos": len(paths),
              "seconds": seconds, "best": best, "ratio": fast / slow, "ingest_seconds": whole}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"ingest-speed-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
