#!/usr/bin/env python3
"""A simulated reviewer: do the verdicts on the top suspects make the next audit find more of the others?

    python bench/reviewed.py CASE [--mode titles|columns] [--rounds 2] [--per-round 100] [--cache FEATURES]

CASE is a case folder `bench/quality.py` left (truth.csv, and its work folder w/ or w-titles/ with catalog.parquet,
pairs.parquet, model-zeroshot/ and scores-zeroshot.parquet). Each round, the reviewer judges the `per-round` highest-
scoring products no one has judged yet (the report's order of new suspects): wrong_photo where truth.csv says the photo
was exchanged (naming the right product when the suggested one, `photo_fits`, is it, as the reviewer sees it), else
ok. Then `train --reviewed` and `score --reviewed` with every verdict so far. Measured with ../shared/bench/evaluate.py
on the products no one has reviewed, against the first scores on the same products; and how many reviewed-ok products
are flagged. With `--control`, each round also trains and scores once more without any verdict and with another seed
(`--seed ROUND`), measured on the same products: how far training again moves the figures by itself, so that the
verdicts' effect is the difference between `after` and `control`. Writes bench/results/reviewed-DATE.json and prints
a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MMAUDIT = [sys.executable, "-m", "mmaudit.cli"]


def evaluate(truth: pd.DataFrame, scores_path: Path, keep: set[str], folder: Path, name: str) -> dict:
    """evaluate.py's figures on the products in `keep` only."""
    scores = pd.read_parquet(scores_path, columns=["product_id", "mismatch_score", "photo_fits"])
    scores = scores[scores.product_id.isin(keep)]
    truth_path, scores_file = folder / f"truth-{name}.csv", folder / f"scores-{name}.parquet"
    truth[truth.product_id.isin(keep)].to_csv(truth_path, index=False)
    scores.to_parquet(scores_file, index=False)
    out = subprocess.run([sys.executable, str(SHARED / "bench" / "evaluate.py"), str(truth_path), str(scores_file),
                          "--score-col", "mismatch_score", "--partner-col", "photo_fits", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def train_and_score(work: Path, cache: Path, name: str, reviewed: list[str], train_options: list[str] = ()) -> Path:
    """`mmaudit train` and `score` on the case's pairs and catalog with the `--reviewed` options given (and `train_options`
    for train alone); the scores' path."""
    model, scores = work / f"model-{name}", work / f"scores-{name}.parquet"
    subprocess.run(MMAUDIT + ["train", str(work / "pairs.parquet"), "-o", str(model), *reviewed, *train_options], check=True, capture_output=True)
    subprocess.run(MMAUDIT + ["score", str(work / "catalog.parquet"), "-m", str(model), "-o", str(scores), "--cache-dir", str(cache), *reviewed],
                   check=True, capture_output=True)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", type=Path)
    ap.add_argument("--mode", default="titles", choices=["titles", "columns"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--per-round", type=int, default=100)
    ap.add_argument("--cache", type=Path, default=None, help="feature cache [default: CASE/../features, as quality.py keeps it]")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--control", action="store_true", help="also train again without verdicts, with another seed, each round")
    a = ap.parse_args()
    work = a.case / ("w-titles" if a.mode == "titles" else "w")
    cache = a.cache or a.case.parent / "features"
    truth = pd.read_csv(a.case / "truth.csv", dtype=str, keep_default_na=False)
    swapped = dict(zip(truth.product_id, truth.swapped == "1"))
    photo_of = dict(zip(truth.product_id, truth.photo_of))
    first = work / "scores-zeroshot.parquet"
    latest, files, reviewed, rows = first, [], {}, []
    for round_ in range(1, a.rounds + 1):
        scores = pd.read_parquet(latest, columns=["product_id", "mismatch_score", "photo_fits"]).sort_values("mismatch_score", ascending=False)
        top = scores[~scores.product_id.isin(reviewed)].head(a.per_round)
        sheet = pd.DataFrame({"product_id": top.product_id,
                              "verdict": ["wrong_photo" if swapped.get(p) else "ok" for p in top.product_id],
                              "right_photo_of": [f if swapped.get(p) and f == photo_of.get(p) else "" for p, f in zip(top.product_id, top.photo_fits)]})
        reviewed.update(dict(zip(sheet.product_id, sheet.verdict)))
        files.append(work / f"review-{round_}.csv")
        sheet.to_csv(files[-1], index=False)
        given = [x for f in files for x in ("--reviewed", str(f))]
        latest = train_and_score(work, cache, f"reviewed-{round_}", given)
        unreviewed = set(truth.product_id) - set(reviewed)
        before, after = (evaluate(truth, s, unreviewed, work, f"{n}-{round_}") for s, n in ((first, "first"), (latest, "after")))
        control = {}
        if a.control:
            control = evaluate(truth, train_and_score(work, cache, f"control-{round_}", [], ["--seed", str(round_)]), unreviewed, work, f"control-{round_}")
        flagged = pd.read_parquet(latest, columns=["product_id", "flagged"]).set_index("product_id").flagged
        ok = [p for p, v in reviewed.items() if v == "ok"]
        rows.append({"case": a.case.name, "mode": a.mode, "round": round_, "reviewed": len(reviewed),
                     "reviewed_wrong": sum(v == "wrong_photo" for v in reviewed.values()),
                     "before": before, "after": after, "control": control, "reviewed_ok_flagged": int(flagged.reindex(ok).fillna(False).sum())})
        print(json.dumps(rows[-1]), flush=True)
    a.results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    (a.results / f"reviewed-{a.case.name}-{a.mode}-{stamp}.json").write_text(json.dumps({"date": stamp, "command": " ".join(sys.argv), "rows": rows}, indent=2))
    print("| case | mode | round | reviewed (wrong) | unreviewed R@P0.5 before -> after (control) | AP before -> after (control) | reviewed ok flagged |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        b, f, c = r["before"], r["after"], r["control"]
        controls = [f" ({c[k]:.3f})" if c else "" for k in ("recall_at_p50", "average_precision")]
        print(f"| {r['case']} | {r['mode']} | {r['round']} | {r['reviewed']} ({r['reviewed_wrong']}) | {b['recall_at_p50']:.3f} -> "
              f"{f['recall_at_p50']:.3f}{controls[0]} | {b['average_precision']:.3f} -> {f['average_precision']:.3f}{controls[1]} | "
              f"{r['reviewed_ok_flagged']} |")


if __name__ == "__main__":
    main()
