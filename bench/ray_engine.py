#!/usr/bin/env python3
"""The ray engine's overhead on one machine: a Ray cluster of a head and one worker node on 127.0.0.1
(1 CPU each), against the local engine (2 torch threads), in one run, through the real CLI.

    python bench/ray_engine.py --work bench-out/hard10/w --model model-zeroshot --cache-dir bench-out/features [--photos 1000] [--repeats 2]

WORK holds catalog.parquet and a trained model; CACHE_DIR the catalog's features.
Scoring: the whole catalog (features cached), local then ray, `--repeats` times; the scores must be equal.
Extraction: the first `--photos` products' photos and texts into a fresh cache per run (make-negatives).
Prints seconds, products/s and ray/local as a ratio (>1: ray is slower).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.ray_cluster import auth_env, local_cluster  # noqa: E402

MMAUDIT = [sys.executable, "-m", "mmaudit.cli"]


def timed(args: list) -> float:
    start = time.perf_counter()
    result = subprocess.run(MMAUDIT + [str(a) for a in args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--model", default="model")
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    catalog, model = a.work / "catalog.parquet", a.work / a.model
    products = int((pd.read_parquet(catalog, columns=["status"]).status == "ok").sum())
    scratch = Path(tempfile.mkdtemp(prefix="raybench-"))
    sample = scratch / "sample.parquet"
    full = pq.read_table(catalog)  # the first rows, with the file's metadata (what `ingest` recorded)
    pq.write_table(full.slice(0, a.photos), sample)
    auth_env()
    rows = {"score": {"local": [], "ray": []}, "extract": {"local": [], "ray": []}}
    with local_cluster(workers=1, cpus=1, object_store_bytes=3_000_000_000) as address:
        ray = ["--engine", "ray", "--ray-address", address]
        for r in range(a.repeats):
            for engine, extra in (("local", []), ("ray", ray)):
                out = scratch / f"scores-{engine}.parquet"
                rows["score"][engine].append(timed(["score", catalog, "-m", model, "-o", out, "--cache-dir", a.cache_dir, *extra]))
                cache = scratch / f"features-{engine}-{r}"
                rows["extract"][engine].append(timed(["make-negatives", sample, "-o", scratch / f"pairs-{engine}.parquet",
                                                      "--cache-dir", cache, *extra]))
                shutil.rmtree(cache)
            local, distributed = pd.read_parquet(scratch / "scores-local.parquet"), pd.read_parquet(scratch / "scores-ray.parquet")
            same = np.allclose(local.mismatch_score.fillna(-1), distributed.mismatch_score.fillna(-1), atol=1e-6) and \
                local.photo_fits.fillna("").equals(distributed.photo_fits.fillna(""))
            print(f"repeat {r + 1}: scores equal: {same}", flush=True)
    n = {"score": products, "extract": a.photos}
    print("| stage | products | local s | ray s | local products/s | ray products/s | ray / local time |")
    print("|---|---|---|---|---|---|---|")
    for stage, times in rows.items():
        local, distributed = np.median(times["local"]), np.median(times["ray"])
        print(f"| {stage} | {n[stage]:,} | {local:.1f} | {distributed:.1f} | {n[stage] / local:.0f} | {n[stage] / distributed:.0f} | "
              f"{distributed / local:.2f} |")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
