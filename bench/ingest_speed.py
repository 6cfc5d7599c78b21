#!/usr/bin/env python3
"""Rows/s of `mmaudit ingest` on ../shared/datasets/myntra-fashion (CSV + 9,583 photos), at 1, 2 and 4 decode workers.

    python bench/ingest_speed.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "myntra-fashion"


def main() -> None:
    print("| workers | seconds | rows/s |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2, 4):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mmaudit.cli", "ingest", str(DATA / "products.csv"), "-o", f"{tmp}/c{workers}.parquet",
                            "--set", f"ingest.workers={workers}"], check=True, capture_output=True)
            seconds = time.perf_counter() - start
            print(f"| {workers} | {seconds:.1f} | {9583 / seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
