#!/usr/bin/env python3
"""Photos/s and texts/s of the offline towers at several batch sizes and thread counts, side by side.

    python bench/features_speed.py [--n 256]

Reads the first N photos and texts of ../shared/datasets/myntra-fashion. Ratios within one run
are what to compare: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from mmaudit.backbones import load
from mmaudit.images import load_rgb

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "myntra-fashion"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    a = ap.parse_args()
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[: a.n]
    images = [load_rgb(DATA / r["image"]) for r in rows]
    texts = [f"{r['title']}. {r['description']}" for r in rows]
    backbone = load("offline-lite0-minilm")
    print("| tower | threads | batch | items/s |")
    print("|---|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, 8, 32, 64):
            for name, items, encode in (("photo", images, backbone.encode_photos), ("text", texts, backbone.encode_texts)):
                encode(items[:batch])  # warm-up
                start = time.perf_counter()
                for s in range(0, len(items), batch):
                    encode(items[s:s + batch])
                print(f"| {name} | {threads} | {batch} | {len(items) / (time.perf_counter() - start):.1f} |", flush=True)


if __name__ == "__main__":
    main()
