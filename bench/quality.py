#!/usr/bin/env python3
"""The evaluation protocol (../shared/docs/evaluation-protocol.md), end to end, every model side by side.

    python bench/quality.py [--plans random hard hardest] [--fractions 10 2] [--models fusion dual zeroshot]
                            [--modes columns titles] [--out bench-out] [--results bench/results] [--score-only]

For each plan and fraction: contaminate the shared catalog, run mmaudit on the contaminated copy
as a user would (ingest, make-negatives, then train + score for each model with the tool's
defaults), and measure with ../shared/bench/evaluate.py. The feature cache is shared between
runs (features are keyed by photo bytes and text, which contamination does not change), so the
first run pays for extraction; its time is reported. Writes a JSON file and prints a Markdown table.

Two modes: `columns` gives mmaudit the contaminated catalog as published (its attribute columns too); `titles` keeps
only `id,image,title,description`, as most catalogs are, so every claim must be read from the text.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "datasets" / "myntra-fashion"
MMAUDIT = [sys.executable, "-m", "mmaudit.cli"]


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MiB) of one command (from the kernel's accounting of the child: no
    /usr/bin/time needed)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            sys.exit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss // 1024


def machine() -> str:
    """Where a benchmark ran: the host's name, its CPUs and the GPU torch sees, if any."""
    import torch

    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{platform.node()} {os.cpu_count()} CPUs{gpu}"


def own_flags(truth_csv: Path, scores: Path) -> dict:
    """How the tool's own decision (`flagged`) fares: how many it flags, their precision and recall against the truth,
    and the share of mismatches it estimated for the catalog."""
    import pandas as pd

    from mmaudit.schema import read_metadata

    truth = pd.read_csv(truth_csv)
    table = pd.read_parquet(scores, columns=["product_id", "flagged"])
    swapped = set(truth.product_id[truth.swapped == 1].astype(str))
    flagged = set(table.product_id[table.flagged].astype(str))
    settings = read_metadata(scores).get("settings", {})
    return {"flagged": len(flagged), "flagged_precision": len(flagged & swapped) / max(len(flagged), 1),
            "flagged_recall": len(flagged & swapped) / max(len(swapped), 1),
            "estimated_share": settings.get("calibration", {}).get("estimated_mismatch_share")}


TITLES_ONLY = ["id", "image", "title", "description"]


def titles_only(case: Path) -> Path:
    """The contaminated catalog with only its id, photo and text columns (the `titles` mode), written once beside it."""
    import pandas as pd

    out = case / "products-titles.csv"
    if not out.exists():
        pd.read_csv(case / "products.csv", dtype=str, keep_default_na=False)[TITLES_ONLY].to_csv(out, index=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", nargs="+", default=["random", "hard", "hardest"])
    ap.add_argument("--fractions", nargs="+", type=int, default=[10, 2])
    ap.add_argument("--models", nargs="+", default=["fusion", "dual", "zeroshot"])
    ap.add_argument("--modes", nargs="+", default=["columns", "titles"], choices=["columns", "titles"],
                    help="columns: the catalog as published; titles: only id, image, title and description")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra --set for every stage")
    ap.add_argument("--score-only", action="store_true", help="score the models an earlier run left in --out again "
                    "(after a change to `score` alone); ingest, make-negatives and train are not run, their times are 0")
    a = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is not here: the benchmark needs the shared catalog")
    cache = a.out / "features"
    extra = [x for s in a.sets for x in ("--set", s)]
    rows = []
    for plan, fraction, mode in [(p, f, m) for m in a.modes for p in a.plans for f in a.fractions]:
        case = a.out / f"{plan}{fraction}"
        if not (case / "truth.csv").exists():
            subprocess.run([sys.executable, str(SHARED / "bench" / "contaminate.py"), str(DATA),
                            str(DATA / "swaps" / f"{plan}.csv"), str(case), "--fraction", str(fraction)], check=True)
        products = case / "products.csv" if mode == "columns" else titles_only(case)
        work = case / ("w" if mode == "columns" else "w-titles")
        skipped = (0.0, 0)
        if a.score_only and not (work / "catalog.parquet").exists():
            sys.exit(f"--score-only: {work} holds no earlier run")
        times = {}
        times["ingest"] = skipped if a.score_only else timed(
            MMAUDIT + ["ingest", str(products), "-o", str(work / "catalog.parquet")] + extra)
        times["make-negatives"] = skipped if a.score_only else timed(
            MMAUDIT + ["make-negatives", str(work / "catalog.parquet"), "-o", str(work / "pairs.parquet"), "--cache-dir", str(cache)] + extra)
        for model in a.models:
            t_train = skipped if a.score_only else timed(
                MMAUDIT + ["train", str(work / "pairs.parquet"), "-o", str(work / f"model-{model}"), "--model", model] + extra)
            scores = work / f"scores-{model}.parquet"
            t_score = timed(MMAUDIT + ["score", str(work / "catalog.parquet"), "-m", str(work / f"model-{model}"), "-o", str(scores),
                                       "--cache-dir", str(cache)] + extra)
            figures = json.loads(subprocess.run(
                [sys.executable, str(SHARED / "bench" / "evaluate.py"), str(case / "truth.csv"), str(scores),
                 "--score-col", "mismatch_score", "--partner-col", "photo_fits", "--json"],
                capture_output=True, text=True, check=True).stdout)
            row = {"plan": plan, "fraction": fraction, "mode": mode, "model": model, **figures, **own_flags(case / "truth.csv", scores),
                   "ingest_s": times["ingest"][0], "negatives_s": times["make-negatives"][0], "train_s": t_train[0],
                   "score_s": t_score[0], "peak_mib": max(times["ingest"][1], times["make-negatives"][1], t_train[1], t_score[1])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    a.results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    meta = {"date": stamp, "machine": machine(), "command": " ".join(sys.argv), "rows": rows}
    (a.results / f"quality-{stamp}.json").write_text(json.dumps(meta, indent=2))
    print("| mode | plan | % | model | R@P0.5 | R@P0.8 | AP | ROC-AUC | P@k | partner acc | flagged (precision / recall) | share est. | "
          "ingest s | negatives s | train s | score s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['plan']} | {r['fraction']} | {r['model']} | {r['recall_at_p50']:.3f} | {r['recall_at_p80']:.3f} | "
              f"{r['average_precision']:.3f} | {r['roc_auc']:.3f} | {r['precision_at_k']:.3f} | {r['partner_accuracy']:.3f} | "
              f"{r['flagged']} ({r['flagged_precision']:.3f} / {r['flagged_recall']:.3f}) | {r['estimated_share'] or 0:.3f} | "
              f"{r['ingest_s']:.0f} | {r['negatives_s']:.0f} | {r['train_s']:.0f} | {r['score_s']:.0f} | {r['peak_mib']} |")


if __name__ == "__main__":
    main()
