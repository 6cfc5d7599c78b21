#!/usr/bin/env python3
"""Photo features one batch at a time against the next batch prepared while the towers encode this one, side by side.

    python bench/photo_preparation.py [--n 400] [--repeats 2]

The first N photos of ../shared/datasets/myntra-fashion through the offline default's photo tower at the audit's batch
size, by `features.photo_batches`: each batch decoded and prepared (product view, colour statistics and palettes) in
this thread before the towers encode it (`workers` 0: what `make-negatives` and `score` do where the towers run on the
CPU, and what a Ray actor does) against a worker thread preparing the next batch while the towers encode this one
(`workers` 1: `engine.photo_workers=1`), alternated `--repeats` times. Checks the arrays equal to the bit and prints
photos/s and the ratio. Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np

from mmaudit.backbones import load
from mmaudit.feature_keys import VECTORS
from mmaudit.features import EXTRACT_BATCH, photo_batches

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


def one_batch_at_a_time(backbone, paths: list[str]) -> list[dict[str, np.ndarray]]:
    return [arrays for _, arrays, _, _ in photo_batches(backbone, (VECTORS,), paths, paths, EXTRACT_BATCH, workers=0)]


def prepared_while_encoding(backbone, paths: list[str]) -> list[dict[str, np.ndarray]]:
    return [arrays for _, arrays, _, _ in photo_batches(backbone, (VECTORS,), paths, paths, EXTRACT_BATCH, workers=1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        paths = [str(DATA / row["image"]) for row in list(csv.DictReader(handle))[: a.n]]
    backbone = load("offline-lite0-minilm")
    one_batch_at_a_time(backbone, paths[:EXTRACT_BATCH])  # warm-up
    seconds: dict[str, list[float]] = {"one batch at a time": [], "prepared while encoding": []}
    arrays = {}
    for _ in range(a.repeats):
        for (name, times), run in zip(seconds.items(), (one_batch_at_a_time, prepared_while_encoding)):
            start = time.perf_counter()
            arrays[name] = run(backbone, paths)
            times.append(time.perf_counter() - start)
            print(f"{name}: {times[-1]:.1f} s", flush=True)
    before, after = arrays.values()
    equal = all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(before, after))
    pairs = [b / s for s, b in zip(*seconds.values())]
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "photos": len(paths), "batch": EXTRACT_BATCH,
              "seconds": seconds, "ratio_per_repeat": pairs, "arrays_equal": equal}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"photo-preparation-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1))
    print("| way | photos/s per repeat |\n|---|---|")
    for name, times in seconds.items():
        print(f"| {name} | {', '.join(f'{len(paths) / t:.1f}' for t in times)} |")
    print(f"prepared while encoding / one batch at a time, time per repeat: {', '.join(f'{p:.3f}' for p in pairs)}; "
          f"arrays equal to the bit: {equal}\n(written to {path})")


if __name__ == "__main__":
    main()
