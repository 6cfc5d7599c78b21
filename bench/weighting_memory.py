#!/usr/bin/env python3
"""Peak memory of the weightings' fit (`train.stack`: a logistic model over the pair model's logit and every claim's
cost) against the size of its input, the pairs x claims matrix of costs, on random inputs of the shipped shapes.

    python bench/weighting_memory.py [--shapes 50000x597 200000x600]

50,000 pairs and 597 claims are the 10,000-product synthetic catalog's (`bench/cost_curve.py`); 200,000 pairs is
`train.STACKED_PAIRS`, the most the fit is given whatever the catalog's size. Memory is numpy's allocations as
`tracemalloc` traces them, the input's own excluded; the seconds are one run's.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from train_savings import stacking_inputs

from mmaudit.train import stack


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", default=["50000x597", "200000x600"], help="pairs x claims")
    a = ap.parse_args()
    print("| pairs | claims | cost matrix MiB | peak of the fit MiB | peak / matrix | seconds | weights kept |")
    print("|---|---|---|---|---|---|---|")
    for shape in a.shapes:
        pairs, claims = (int(v) for v in shape.split("x"))
        logits, costs, labels = stacking_inputs(pairs, claims)
        x = np.column_stack([logits, costs])  # what `Claims.columns` gives the fit
        del costs
        tracemalloc.start()
        start = time.perf_counter()
        weights, _ = stack(x, labels)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"| {pairs:,} | {claims} | {x.nbytes / 2**20:,.0f} | {peak / 2**20:,.0f} | {peak / x.nbytes:.2f} | "
              f"{seconds:.1f} | {(weights > 0).sum()} |", flush=True)


if __name__ == "__main__":
    main()
