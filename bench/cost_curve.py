#!/usr/bin/env python3
"""The audit's cost by catalog size: time per product and peak memory of each stage, on synthetic catalogs.

    python bench/cost_curve.py [--sizes 3000 10000 30000] [--out bench-out/cost-curve] [--towers]

Each size is a catalog from `bench/synthetic_catalog.py` (variants of the shared catalog's products). Without
`--towers` the feature cache is filled from the shared catalog's cached features (`--base-cache`, which must hold them)
instead of running the towers, whose time is per photo and per text and measured against the whole audit by
`bench/audit_speed.py`; with `--towers` the towers run (cold cache). Then the stages as a user runs them, each timed with
its peak memory. Prints seconds per 1,000 products and peak MiB per stage and size, and each stage's time per product at
the largest size over the smallest: about 1 is linear growth; and the claim heads' outputs at each size (classes of the
attribute columns and title slots, words tried), on which `train`'s time per product depends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from quality import MMAUDIT, ROOT, timed
from synthetic_catalog import fill_features, write_catalog


def head_outputs(model: Path) -> dict:
    """What the claim heads of a trained model predict: classes of the attribute columns and slots, words tried (their
    width is most of `train`'s arithmetic per product, so it says whether a size's time per product compares)."""
    config = json.loads((model / "config.json").read_text())
    metrics = json.loads((model / "metrics.json").read_text())
    return {"classes": sum(len(classes) for classes in config.get("attributes", {}).values()),
            "slots": len(config.get("slots", {})), "words_tried": sum(w["tried"] for w in metrics.get("words", {}).values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[3000, 10000, 30000])
    ap.add_argument("--out", type=Path, default=Path("bench-out/cost-curve"))
    ap.add_argument("--base-cache", type=Path, default=Path("bench-out/features"),
                    help="a feature cache holding the shared catalog's features (bench/quality.py leaves one)")
    ap.add_argument("--towers", action="store_true", help="run the towers (cold cache) instead of filling the cache")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    rows = []
    started = dt.datetime.now()
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"cost-curve-{started:%Y-%m-%d-%H%M}.json"  # rewritten after each size: a stopped run keeps the sizes done
    for n in a.sizes:
        out = a.out / f"n{n}"
        products = write_catalog(n, out)
        w = out / ("work-towers" if a.towers else "work")
        cache = w / "features"
        times = {}
        start = time.perf_counter()
        if not a.towers:
            fill_features(products, out, cache, a.base_cache)
            times["features filled"] = (time.perf_counter() - start, 0)
        stages = {"ingest": [*MMAUDIT, "ingest", str(out / "products.csv"), "-o", str(w / "catalog.parquet")],
                  "make-negatives": [*MMAUDIT, "make-negatives", str(w / "catalog.parquet"), "-o", str(w / "pairs.parquet"),
                                     "--cache-dir", str(cache)],
                  "train": [*MMAUDIT, "train", str(w / "pairs.parquet"), "-o", str(w / "model")],
                  "score": [*MMAUDIT, "score", str(w / "catalog.parquet"), "-m", str(w / "model"), "-o", str(w / "scores.parquet"),
                            "--cache-dir", str(cache)],
                  "report": [*MMAUDIT, "report", str(w / "scores.parquet"), "-o", str(w / "report")]}
        for stage, cmd in stages.items():
            times[stage] = timed(cmd)
            print(f"{n}: {stage} {times[stage][0]:.0f} s, peak {times[stage][1]} MiB", file=sys.stderr, flush=True)
        rows.append({"n": n, "stages": {s: {"seconds": t, "peak_mib": m} for s, (t, m) in times.items()},
                     "head_outputs": head_outputs(w / "model")})
        print(f"{n}: claim heads' outputs {rows[-1]['head_outputs']}", file=sys.stderr, flush=True)
        path.write_text(json.dumps({"date": started.isoformat(timespec="minutes"), "towers": a.towers, "rows": rows}, indent=1))
    stages = list(rows[0]["stages"])
    print("| stage | " + " | ".join(f"{r['n']:,}: s per 1,000 / peak MiB" for r in rows) + " | per product, largest / smallest |")
    print("|---|" + "---|" * (len(rows) + 1))
    for stage in stages:
        per = [r["stages"][stage]["seconds"] / r["n"] * 1000 for r in rows]
        cells = [f"{p:.1f} / {r['stages'][stage]['peak_mib']}" for p, r in zip(per, rows)]
        print(f"| {stage} | " + " | ".join(cells) + f" | {per[-1] / per[0]:.2f} |")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
