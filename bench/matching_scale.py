#!/usr/bin/env python3
"""The catalog-wide steps of `score` at up to a million products, on synthetic inputs: the matching (each product in at
most one exchange, `exchanges.one_exchange_each`) and the flag threshold (`flag_threshold.robust_scales`, `combine`,
`calibrate`). FAISS at that size is `bench/faiss_scale.py`.

    python bench/matching_scale.py [--sizes 10000 100000 1000000]

Each product gets `exchanges.EXCHANGES` candidate exchanges with random partners and gains (a few large, most small),
as `score_chunk` leaves them; the simulated exchanges are `score.simulated_swaps` of each kind (the default count).
Prints seconds per 1,000 products and the process's peak memory after each step, per size: about constant seconds per
product is linear growth. Each size runs in a process of its own, so each peak is that size's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def one_size(n: int) -> dict:
    from mmaudit.config import ScoreConfig
    from mmaudit.exchanges import EXCHANGES, one_exchange_each
    from mmaudit.flag_threshold import calibrate, combine, robust_scales

    rng = np.random.default_rng(0)
    partners = rng.integers(0, n, size=(n, EXCHANGES))
    gains = np.sort(rng.gumbel(-2.0, 1.0, size=(n, EXCHANGES)), 1)[:, ::-1]
    logits = rng.normal(size=(n, EXCHANGES))
    scored = pd.DataFrame({"row": np.arange(n), "exchange_rows": list(partners), "exchange_gains": list(gains),
                           "exchange_logits": list(logits), "exchange_back_logits": list(-logits)})
    out = {"n": n, "inputs_peak_mib": peak_mib()}
    start = time.perf_counter()
    matched = one_exchange_each(scored)
    out["matching_s"], out["matching_peak_mib"] = time.perf_counter() - start, peak_mib()
    config = ScoreConfig()
    pair_logit = rng.normal(size=n)
    start = time.perf_counter()
    scales = robust_scales(pair_logit, matched.counted_gain.to_numpy())
    observed = combine(pair_logit, matched.counted_gain.to_numpy(), scales)
    simulated = {kind: combine(rng.normal(2.0, 1.0, config.simulated_swaps), rng.gumbel(1.0, 1.0, config.simulated_swaps), scales)
                 for kind in ("far", "near")}
    calibrate(observed, simulated, config.target_precision, config.max_mismatch_share)
    out["threshold_s"], out["threshold_peak_mib"] = time.perf_counter() - start, peak_mib()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size in this process (each size runs in its own)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one_size(a.one)))
        return
    rows = [json.loads(subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True).stdout)
            for n in a.sizes]
    print("| products | matching: s per 1,000 | peak MiB | threshold: s per 1,000 | peak MiB | inputs alone: peak MiB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['matching_s'] / r['n'] * 1000:.3f} | {r['matching_peak_mib']} | "
              f"{r['threshold_s'] / r['n'] * 1000:.4f} | {r['threshold_peak_mib']} | {r['inputs_peak_mib']} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
