#!/usr/bin/env python3
"""How many of a benchmark case's false positives the clean catalog's own audit flags too.

    python bench/own_errors.py --clean CLEAN/scores.parquet --case bench-out/hard2 [--case ...] [--model zeroshot]

CLEAN is `mmaudit audit ../shared/datasets/myntra-fashion/products.csv -o CLEAN`: the catalog before any photo was
exchanged. The protocol counts every product it did not exchange as clean, but the shared catalog has photo / text
mismatches of its own (read its report: CLEAN/report). Per case (a folder `bench/quality.py` ran: CASE/truth.csv,
CASE/w/scores-MODEL.parquet), prints the products above the threshold of recall at precision 0.5 that were never
exchanged, and how many of them the clean catalog's audit ranks among its first 100 and among those it flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def above_half_precision(scores: pd.Series, swapped: pd.Series) -> pd.Index:
    """Products at or above the lowest score at which at least one flag in two is a swapped product."""
    order = scores.sort_values(ascending=False).index
    hits = swapped.loc[order].to_numpy().cumsum()
    precise = np.flatnonzero(hits / np.arange(1, len(order) + 1) >= 0.5)
    return order[:precise.max() + 1] if len(precise) else order[:0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", type=Path, required=True, help="scores.parquet of the uncontaminated catalog's audit")
    parser.add_argument("--case", type=Path, action="append", required=True)
    parser.add_argument("--model", default="zeroshot")
    args = parser.parse_args()
    clean = pd.read_parquet(args.clean, columns=["product_id", "mismatch_score", "flagged"]).astype({"product_id": str}).set_index("product_id")
    rank = clean.mismatch_score.rank(ascending=False, method="first")
    print("case\tswapped\tfound at P0.5\tclean above threshold\tof them in the clean audit's first 100\tflagged by it")
    for case in args.case:
        truth = pd.read_csv(case / "truth.csv", dtype=str, keep_default_na=False).set_index("product_id").swapped == "1"
        scores = pd.read_parquet(case / "w" / f"scores-{args.model}.parquet", columns=["product_id", "mismatch_score"])
        scores = scores.astype({"product_id": str}).set_index("product_id").mismatch_score.dropna()
        top = above_half_precision(scores, truth.loc[scores.index])
        false = top[~truth.loc[top].to_numpy()]
        known = false.intersection(clean.index)
        print(f"{case.name}\t{int(truth.sum())}\t{int(truth.loc[top].sum())}\t{len(false)}\t{int((rank.loc[known] <= 100).sum())}\t"
              f"{int(clean.flagged.loc[known].sum())}")


if __name__ == "__main__":
    main()
