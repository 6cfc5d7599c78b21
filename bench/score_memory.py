#!/usr/bin/env python3
"""`score`'s peak memory and time by catalog size, with one model, for one or more versions of the code side by side.

    python bench/score_memory.py --model WORK/model --base-cache WORK/features [--sizes 30000 100000]
        [--code new=. old=/tmp/old] [--repeats 1] [--out bench-out/score-memory]

Each size is a catalog from `bench/synthetic_catalog.py` (variants of the shared catalog's products), ingested once,
its feature cache filled from the shared catalog's cached features (`--base-cache`), and scored with `--model` (one
trained on the whole shared catalog: `score` takes a model trained elsewhere), so no size trains. Each code (a folder
holding an `mmaudit` package, e.g. `git archive REV mmaudit | tar -x -C DIR`, put on PYTHONPATH) scores each size in
turn, `--repeats` times. Prints the seconds and peak MiB of each run, the growth of the peak per product between the
smallest and largest size, and whether every code wrote the same scores as the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd

from quality import MMAUDIT, ROOT, machine, timed
from synthetic_catalog import fill_features, write_catalog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--base-cache", type=Path, required=True, help="a feature cache holding the shared catalog's features")
    ap.add_argument("--sizes", nargs="+", type=int, default=[30_000, 100_000])
    ap.add_argument("--code", nargs="+", default=["this=."], help="NAME=FOLDER holding an mmaudit package")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench-out/score-memory"))
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    codes = {name: str(Path(folder).resolve()) for name, folder in (c.split("=", 1) for c in a.code)}
    started = dt.datetime.now()
    runs = []
    for n in a.sizes:
        out = (a.out / f"n{n}").resolve()
        products = write_catalog(n, out)
        cache = fill_features(products, out, out / "features", a.base_cache)
        catalog = out / "work" / "catalog.parquet"
        if not catalog.exists():
            timed([*MMAUDIT, "ingest", str(out / "products.csv"), "-o", str(catalog)])
        first = None
        for repeat in range(a.repeats):
            for name, folder in codes.items():
                scores = out / "work" / f"scores-{name}.parquet"
                env = os.environ | {"PYTHONPATH": folder}  # run outside the checkout: its own mmaudit would come first
                seconds, peak = timed([*MMAUDIT, "score", str(catalog), "-m", str(a.model.resolve()), "-o", str(scores),
                                       "--cache-dir", str(cache)], env=env, cwd=out)
                table = pd.read_parquet(scores)
                first = table if first is None else first
                same = bool(table.equals(first))
                runs.append({"n": n, "code": name, "repeat": repeat, "seconds": seconds, "peak_mib": peak, "same_scores": same})
                print(f"{n:,} products, {name}: {seconds:.0f} s, peak {peak:,} MiB, scores as the first code's: {same}", flush=True)
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"score-memory-{started:%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps({"date": started.isoformat(timespec="minutes"), "machine": machine(), "codes": codes,
                                "model": str(a.model.resolve()), "runs": runs}, indent=1))
    small, large = min(a.sizes), max(a.sizes)
    for name in codes:
        peak = {n: min(r["peak_mib"] for r in runs if r["n"] == n and r["code"] == name) for n in (small, large)}
        if large > small:
            print(f"{name}: peak grows {(peak[large] - peak[small]) * 1024 / (large - small):.1f} KB per product from {small:,} to {large:,}")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
