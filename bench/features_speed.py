#!/usr/bin/env python3
"""Photos/s and texts/s of the offline towers by batch size, threads and precision, side by side, and how far a lower
precision moves their outputs.

    python bench/features_speed.py [--n 256] [--batches 1 8 32 64] [--threads 1 2] [--towers photo text title]
                                   [--device cpu|cuda] [--precisions fp32 bf16] [--repeat 1] [--results DIR]

Reads the first N photos and texts of ../shared/datasets/myntra-fashion (`text`: title and description, most of them
the text tower's 64 tokens; `title`: the titles alone, as a catalog of short titles gives). Each precision is the offline towers built
with that `precision` (as a backbone file sets it); for one other than fp32, the cosine of every pooled vector (the
features the default judge reads) with the fp32 one (min and mean) and the largest difference of the colour-weighted
detail features, relative to their scale. Ratios within one run are what to compare: these machines are shared and
noisy. On a GPU the towers' time is the wall time of each batch, its copy back to the host included.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch

from mmaudit.backbones import build, get_config
from mmaudit.backbones.offline import PRECISIONS
from mmaudit.images import load_rgb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


def encode_all(encode, items: list, batch: int) -> tuple[float, list]:
    encode(items[:batch])  # warm-up
    start = time.perf_counter()
    outputs = [encode(items[s:s + batch]) for s in range(0, len(items), batch)]
    return time.perf_counter() - start, outputs


def agreement(reference: list, other: list) -> dict:
    """Cosine of each pooled vector with the reference's, and the largest detail difference over the detail's scale."""
    pooled = np.concatenate([o.pooled for o in reference]), np.concatenate([o.pooled for o in other])
    cosine = (pooled[0] * pooled[1]).sum(1) / np.linalg.norm(pooled[0], axis=1) / np.linalg.norm(pooled[1], axis=1)
    out = {"pooled_cosine_min": float(cosine.min()), "pooled_cosine_mean": float(cosine.mean())}
    if getattr(reference[0], "detail", None) is not None:
        detail = [np.concatenate([o.detail for o in x]).astype(np.float32) for x in (reference, other)]
        out["detail_max_diff_over_std"] = float(np.abs(detail[0] - detail[1]).max() / detail[0].std())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--towers", nargs="+", choices=["photo", "text", "title"], default=["photo", "text"],
                    help="text: the text tower on title and description; title: on the title alone (a few tokens)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", nargs="+", choices=list(PRECISIONS), default=["fp32"])
    ap.add_argument("--repeat", type=int, default=1, help="encode the N items this many times over (a GPU's speed needs many items)")
    ap.add_argument("--results", type=Path, help="also write the rows to this folder as JSON")
    a = ap.parse_args()
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[: a.n]
    backbones = {kind: build(get_config("offline-lite0-minilm") | {"device": a.device, "precision": kind}) for kind in a.precisions}
    items = {"photo": [load_rgb(DATA / r["image"]) for r in rows] * a.repeat if "photo" in a.towers else None,
             "text": [f"{r['title']}. {r['description']}" for r in rows] * a.repeat if "text" in a.towers else None,
             "title": [r["title"] for r in rows] * a.repeat if "title" in a.towers else None}
    device = next(iter(backbones.values())).device
    results = []
    print(f"{len(rows)} items x {a.repeat} on {device}; agreement: pooled cosine with fp32 min / mean, detail max diff / std")
    print("| tower | threads | batch | precision | items/s | agreement with fp32 |")
    print("|---|---|---|---|---|---|")
    for threads in a.threads:
        torch.set_num_threads(threads)
        for batch in a.batches:
            for name, tower_items in ((k, v) for k, v in items.items() if v):
                reference = None
                for kind, backbone in backbones.items():
                    encode = backbone.encode_photos if name == "photo" else backbone.encode_texts
                    seconds, outputs = encode_all(encode, tower_items, batch)
                    row = {"tower": name, "threads": threads, "batch": batch, "precision": kind, "items_per_s": len(tower_items) / seconds}
                    if kind == "fp32":
                        reference = outputs
                    elif reference is not None:
                        row |= agreement(reference, outputs)
                    results.append(row)
                    agree = " / ".join(f"{v:.5f}" for k, v in row.items() if k.startswith(("pooled", "detail")))
                    print(f"| {name} | {threads} | {batch} | {kind} | {row['items_per_s']:.1f} | {agree} |", flush=True)
    if a.results:
        a.results.mkdir(parents=True, exist_ok=True)
        path = a.results / f"features-speed-{device.type}-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
        path.write_text(json.dumps({"date": dt.datetime.now().isoformat(timespec="minutes"), "n": len(rows), "repeat": a.repeat,
                                    "device": str(device), "torch": torch.__version__, "rows": results}, indent=1))
        print(f"(written to {path})")


if __name__ == "__main__":
    main()
