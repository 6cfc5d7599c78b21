#!/usr/bin/env python3
"""The five stages with and without transparent huge pages, side by side, each variant from a cold cache into a fresh
work folder: as shipped (`make-negatives`, `train` and `score` turn them off for themselves, `allocator.no_huge_pages`;
`ingest` and `report` leave numpy's default), every stage with them (NUMPY_MADVISE_HUGEPAGE=1: numpy asks for them for
every array of 4 MB or more, on Linux 4.6+, and no stage turns them off), and none (NUMPY_MADVISE_HUGEPAGE=0): which a
user's machine runs the audit fastest with.

    python bench/huge_pages.py [--n 2000] [--repeats 2] [--mode columns|titles] [--out bench-out/huge-pages]

Takes the first N products of ../shared/datasets/myntra-fashion, as `bench/audit_speed.py` does, and runs `ingest`,
`make-negatives`, `train`, `score` and `report` one after the other as a user does, once per variant, alternated
`--repeats` times. Prints each stage's best seconds per variant and their ratio to every stage with huge pages; ratios
within one run are what to compare. Also the largest difference between the variants' scores (at 2,000 products,
7e-6 in one run whose features, pairs and model were equal; `score` run again on each folder gave both the same).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

from audit_speed import audit_stages
from quality import DATA, ROOT, TITLES_ONLY, machine, timed

VARIANTS = {"as shipped": None, "huge pages": "1", "without": "0"}  # NUMPY_MADVISE_HUGEPAGE per variant (None: unset)


def run_variant(setting: str | None, catalog_csv: Path, work: Path) -> dict[str, dict]:
    """Each stage's seconds and peak MiB with NUMPY_MADVISE_HUGEPAGE `setting` (None: unset) in a fresh `work`."""
    shutil.rmtree(work, ignore_errors=True)
    os.environ.pop("NUMPY_MADVISE_HUGEPAGE", None)
    if setting is not None:
        os.environ["NUMPY_MADVISE_HUGEPAGE"] = setting
    out = {}
    for stage, cmd in audit_stages(catalog_csv, work).items():
        seconds, peak = timed(cmd)
        out[stage] = {"seconds": seconds, "peak_mib": peak}
    os.environ.pop("NUMPY_MADVISE_HUGEPAGE", None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--mode", choices=["columns", "titles"], default="columns")
    ap.add_argument("--out", type=Path, default=Path("bench-out/huge-pages"))
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    import pandas as pd

    a.out.mkdir(parents=True, exist_ok=True)
    rows = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False).head(a.n)
    catalog_csv = a.out / "products.csv"
    (rows[TITLES_ONLY] if a.mode == "titles" else rows).to_csv(catalog_csv, index=False)
    runs: dict[str, list] = {name: [] for name in VARIANTS}
    for _ in range(a.repeats):
        for name, setting in VARIANTS.items():
            runs[name].append(run_variant(setting, catalog_csv, a.out / name.replace(" ", "-")))
            print(f"{name}: " + ", ".join(f"{s} {v['seconds']:.1f} s" for s, v in runs[name][-1].items()), file=sys.stderr, flush=True)
    scores = [pd.read_parquet(a.out / name.replace(" ", "-") / "scores.parquet") for name in VARIANTS]
    numeric = scores[0].select_dtypes("number").columns
    score_difference = max(float((other[numeric] - scores[0][numeric]).abs().max().max()) for other in scores[1:])
    stages = list(runs["without"][0])
    best = {name: {s: min(r[s]["seconds"] for r in values) for s in stages} for name, values in runs.items()}
    for name in best:
        best[name]["audit"] = sum(best[name][s] for s in stages)
    ratios = {name: {s: best[name][s] / best["huge pages"][s] for s in best[name]} for name in ("as shipped", "without")}
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "machine": machine(), "n": a.n, "mode": a.mode,
              "runs": runs, "best_s": best, "ratio_to_huge_pages": ratios, "largest_score_difference": score_difference}
    print(f"{a.n} products ({a.mode}), best of {a.repeats}; largest difference between the scores: {score_difference:.2g}")
    print("| stage | huge pages s | as shipped s | ratio | without s | ratio |\n|---|---|---|---|---|---|")
    for s in best["huge pages"]:
        print(f"| {s} | {best['huge pages'][s]:.1f} | {best['as shipped'][s]:.1f} | **{ratios['as shipped'][s]:.2f}x** | "
              f"{best['without'][s]:.1f} | {ratios['without'][s]:.2f}x |")
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"huge-pages-{a.mode}-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
