#!/usr/bin/env python3
"""Photos as large as most shops' (1,000-2,000 pixels): decoded at the scale the towers read them at, against decoded
whole, side by side.

    python bench/large_photos.py [--n 200] [--side 1600] [--repeats 2] [--out bench-out/large-photos]

The shared catalog's photos are 224 pixels, so its audits never decode a large photo. This makes N of them large: the
first N photos of ../shared/datasets/myntra-fashion brought to `--side` pixels on their longer side (bicubic) and saved
as JPEG at quality 90 (kept in `--out` for the next run). Then, alternated `--repeats` times in one process:
- `make-negatives`' photo work (`features.photo_batches` through the offline default's photo tower: decode, product
  view, both views' towers, colour statistics and palettes, each batch prepared before the towers encode it),
  photos decoded at least `features.DECODED_SIDE` x the tower's side (shipped) against decoded whole (0);
- `ingest`'s reading of each photo (`images.inspect`: size, hashes, spread), at `images.INSPECTED_SIDE` against whole.
Prints photos/s, the ratios, and how far the features are apart: the pooled vectors' cosine (both views), the colour
statistics' and palettes' largest difference, the photos' perceptual hashes' bits apart. Ratios within one run are what
to compare.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmaudit import features, images
from mmaudit.backbones import load
from mmaudit.feature_keys import VECTORS
from mmaudit.features import EXTRACT_BATCH, photo_batches

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


def large_copies(n: int, side: int, out: Path) -> list[str]:
    """The first n photos at `side` pixels on their longer side, as JPEG files in `out` (made once)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        sources = [DATA / row["image"] for row in list(csv.DictReader(handle))[:n]]
    paths = []
    for k, source in enumerate(sources):
        target = out / f"{k:05d}-{side}.jpg"
        if not target.exists():
            with Image.open(source) as image:
                image = image.convert("RGB")
                scale = side / max(image.size)
                image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC).save(target, quality=90)
        paths.append(str(target))
    return paths


def towers_work(backbone, paths: list[str], decoded_side: int) -> tuple[float, list[dict[str, np.ndarray]]]:
    features.DECODED_SIDE = decoded_side
    start = time.perf_counter()
    arrays = [a for _, a, _, _ in photo_batches(backbone, (VECTORS,), paths, paths, EXTRACT_BATCH)]
    return time.perf_counter() - start, arrays


def ingest_work(paths: list[str], inspected_side: int) -> tuple[float, list]:
    images.INSPECTED_SIDE = inspected_side
    start = time.perf_counter()
    infos = [images.inspect(Path(p), 30_000_000, 50_000_000) for p in paths]
    return time.perf_counter() - start, infos


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--side", type=int, default=1600)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "large-photos")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    paths = large_copies(a.n, a.side, a.out)
    backbone = load("offline-lite0-minilm")
    shipped = {"towers": features.DECODED_SIDE, "ingest": images.INSPECTED_SIDE}
    towers_work(backbone, paths[:EXTRACT_BATCH], shipped["towers"])  # warm-up
    seconds: dict[str, list[float]] = {key: [] for key in ("towers whole", "towers scaled", "ingest whole", "ingest scaled")}
    arrays, infos = {}, {}
    for _ in range(a.repeats):
        for name, side in (("whole", 0), ("scaled", shipped["towers"])):
            elapsed, arrays[name] = towers_work(backbone, paths, side)
            seconds[f"towers {name}"].append(elapsed)
        for name, side in (("whole", 0), ("scaled", shipped["ingest"])):
            elapsed, infos[name] = ingest_work(paths, side)
            seconds[f"ingest {name}"].append(elapsed)
    joined = {key: [np.concatenate([batch[key] for batch in arrays[name]]).astype(np.float32) for name in ("whole", "scaled")]
              for key in arrays["whole"][0]}
    bits = [images.hamming(w.phash, s.phash) for w, s in zip(infos["whole"], infos["scaled"])]
    apart = {"pooled_cosine_min": float(cosines(*joined["pooled"]).min()), "pooled_cosine_mean": float(cosines(*joined["pooled"]).mean()),
             "product_pooled_cosine_min": float(cosines(*joined["product_pooled"]).min()),
             "product_pooled_cosine_mean": float(cosines(*joined["product_pooled"]).mean()),
             "colour_max_diff": float(max(np.abs(w - s).max() for w, s in (joined["colour"], joined["product_colour"]))),
             "palette_max_diff": float(max(np.abs(w - s).max() for w, s in (joined["palette"], joined["product_palette"]))),
             "phash_bits_apart_max": max(bits), "phash_bits_apart_mean": float(np.mean(bits)),
             "sizes_equal": all((w.width, w.height) == (s.width, s.height) for w, s in zip(infos["whole"], infos["scaled"]))}
    best = {key: min(values) for key, values in seconds.items()}
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "n": a.n, "side": a.side, "repeats": a.repeats,
              "decoded_side": shipped["towers"], "inspected_side": shipped["ingest"], "seconds": seconds,
              "photos_per_s": {key: a.n / value for key, value in best.items()},
              "towers_ratio": best["towers scaled"] / best["towers whole"], "ingest_ratio": best["ingest scaled"] / best["ingest whole"],
              "apart": apart}
    print(f"{a.n} photos of {a.side} px, best of {a.repeats} alternated runs")
    print("| work | decoded whole, photos/s | decoded scaled, photos/s | scaled / whole (time) |\n|---|---|---|---|")
    for work in ("towers", "ingest"):
        print(f"| {work} | {a.n / best[f'{work} whole']:.1f} | {a.n / best[f'{work} scaled']:.1f} | {result[f'{work}_ratio']:.2f} |")
    print(json.dumps(apart, indent=1))
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"large-photos-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
