#!/usr/bin/env python3
"""Size per product and time of the feature cache, vectors only (what the default model reads) against vectors and
tokens (what fusion and itm read), side by side in one run, each from a cold cache.

    python bench/feature_cache.py [--n 512] [--out bench-out/feature-cache]

Reads the first N products of ../shared/datasets/myntra-fashion with the offline towers. Ratios within one run are
what to compare: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import pandas as pd

from mmaudit.backbones import build, get_config
from mmaudit.features import FeatureStore, product_features
from mmaudit.images import file_sha256

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "myntra-fashion"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("bench-out/feature-cache"))
    a = ap.parse_args()
    rows = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False).iloc[:a.n]
    paths = [str(DATA / image) for image in rows.image]
    products = pd.DataFrame({"image_path": paths, "image_sha256": [file_sha256(Path(p)) for p in paths],
                             "text": (rows.title + ". " + rows.description).tolist()})
    config = get_config("offline-lite0-minilm")
    backbone = build(config)  # loaded once and warmed up, so neither side pays for it
    product_features(FeatureStore(a.out / "warm-up", config, load_backbone=lambda: backbone), products.iloc[:16], tokens=True)
    results = {}
    for name, tokens in (("vectors", False), ("vectors and tokens", True)):
        cache = a.out / name.replace(" ", "-")
        shutil.rmtree(cache, ignore_errors=True)
        store = FeatureStore(cache, config, load_backbone=lambda: backbone)
        start = time.perf_counter()
        product_features(store, products, tokens=tokens)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in cache.rglob("*.npz"))
        results[name] = {"seconds": round(seconds, 1), "kb_per_product": round(size / len(products) / 1024, 1)}
    base, full = results["vectors"], results["vectors and tokens"]
    print(json.dumps({"products": len(products), **results,
                      "size_ratio": round(base["kb_per_product"] / full["kb_per_product"], 3),
                      "time_ratio": round(base["seconds"] / full["seconds"], 3)}, indent=2))


if __name__ == "__main__":
    main()
