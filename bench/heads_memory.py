#!/usr/bin/env python3
"""Memory of the claim heads' training by catalog size: what `train` holds per product while its heads fit.

    python bench/heads_memory.py --pairs WORK/pairs.parquet [--sizes 10000 30000 100000] [--epochs 1]

`--pairs`: a `make-negatives` output of the shared catalog (its feature cache beside it). For each size N, in a
process of its own: the heads' photo inputs of the catalog's features (`features.product_features`) tiled to N
products, then one round of heads fitted as `train` fits them (`train.fit_heads`: the attribute
heads of 17 columns of the shared catalog's class counts, then the word heads of 600 words on the same inputs'
reduction; 3 folds, random labels: memory does not depend on them) for `--epochs`. Prints the resident memory with
the photo inputs held, the peak once the heads are fitted, and both per product; the growth per product between two
sizes is what a larger catalog costs. Run it with another checkout on PYTHONPATH to compare code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [40, 5, 5, 7, 40, 140, 40, 5, 8, 30, 20, 30, 30, 20, 20, 19, 10]  # the shared catalog's columns and slots
WORDS = {"title": 300, "description": 300}


def resident_mib() -> int:
    with open("/proc/self/status", encoding="utf-8") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


def one_size(pairs: Path, products: int, epochs: int) -> dict:
    import numpy as np

    from mmaudit.config import TrainConfig
    from mmaudit.features import dims_of
    from mmaudit.models.words import MEMBERS as WORD_MEMBERS
    from mmaudit.train import fit_heads, load_training_data

    _, catalog, feats, _ = load_training_data(pairs, None)
    dims = dims_of(feats)
    photo_x = {view: values[np.resize(np.arange(len(catalog)), products)] for view, values in feats["inputs"].items()}
    del feats
    held = resident_mib()
    rng = np.random.default_rng(0)
    sizes = {f"column{k}": n for k, n in enumerate(CLASSES)}
    labels = {name: rng.integers(-1, n, products) for name, n in sizes.items()}
    words = {name: (rng.random((products, n)) < 0.02).astype(np.uint8) for name, n in WORDS.items()}
    folds, config, none = rng.integers(0, 3, products), TrainConfig(attribute_epochs=epochs), np.zeros(0, np.int64)
    start, reductions = time.perf_counter(), {}
    fit_heads(config, photo_x, dims, labels, sizes, folds, none, reductions=reductions)
    fit_heads(config, photo_x, dims, words, WORDS, folds, none, frozenset(WORDS), WORD_MEMBERS, reductions, "words")
    return {"products": products, "photo_inputs_held_mib": held, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "heads_s": time.perf_counter() - start}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--tag", default="", help="names the results file (e.g. the code measured)")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    rows = []
    for products in a.sizes:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # a fresh process: its own peak
            rows.append(pool.submit(one_size, a.pairs.resolve(), products, a.epochs).result())
        print(json.dumps(rows[-1]), flush=True)
    print("| products | photo inputs held MiB | peak MiB | peak KB per product | heads s |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['products']:,} | {row['photo_inputs_held_mib']:,} | {row['peak_mib']:,} | "
              f"{row['peak_mib'] * 1024 / row['products']:.1f} | {row['heads_s']:.0f} |")
    for small, large in zip(rows, rows[1:]):
        growth = (large["peak_mib"] - small["peak_mib"]) * 1024 / (large["products"] - small["products"])
        print(f"{small['products']:,} -> {large['products']:,}: peak grows {growth:.1f} KB per product")
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"heads-memory{'-' + a.tag if a.tag else ''}-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps({"date": dt.datetime.now().isoformat(timespec="minutes"), "epochs": a.epochs, "sizes": rows}, indent=1))
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
