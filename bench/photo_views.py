#!/usr/bin/env python3
"""Photos with no light background to cut away: their product view is the photo itself, and the photo tower runs once.

    python bench/photo_views.py [--n 400] [--repeats 2] [--out DIR]

Most photos of the shared catalog are shot on a light background, and their product view (`images.product_view`) is
the product cut out of it; a catalog of photos shot in a room or a street, or filled by their product, has none to
cut, and the product view of each is the photo itself. This script makes such a catalog from the first N photos of
../shared/datasets/myntra-fashion: each photo's light background pixels painted over with a muted colour gradient
(written as JPEG to `--out`, a temporary folder by default), then times the photo features of those copies through
the offline default's photo tower, in turn as `make-negatives` does on the CPU, two ways, alternated `--repeats`
times: as shipped (a product view that is its photo shares the photo's arrays) and with each such view a copy of its
photo (the tower and the colour statistics run on it again: the way before). Checks the arrays equal to the bit, and
times the photos as shot once for reference. Prints photos/s, the ratio, and the share of product views that are the
photo itself in each set. Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmaudit.backbones import load
from mmaudit.feature_keys import VECTORS, VIEWS
from mmaudit.features import EXTRACT_BATCH, decoded_side, image_arrays, loaded_and_prepared
from mmaudit.images import channel_extremes, light_background, load_rgb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


def background_painted(path: Path, out: Path) -> None:
    """The photo with its light background pixels painted with a muted gradient (not light, not grey): no background
    left for the product view to cut away."""
    pixels = np.asarray(load_rgb(path), dtype=np.float32)
    background = light_background(*channel_extremes(pixels / 255.0))
    across = np.linspace(0.0, 1.0, pixels.shape[1], dtype=np.float32)[None, :, None]
    gradient = (1 - across) * np.array([150, 118, 96], np.float32) + across * np.array([92, 112, 136], np.float32)
    painted = np.where(background[..., None], np.broadcast_to(gradient, pixels.shape), pixels)
    Image.fromarray(painted.round().astype(np.uint8)).save(out, quality=90)


def photo_work(backbone, paths: list[str], encode_twice: bool = False) -> tuple[list[dict[str, np.ndarray]], float]:
    """The cache's arrays of each batch of photos, decoded and prepared in turn; with `encode_twice`, each product view
    that is its photo replaced by a copy (computed again, as before). Also the share of product views that are the
    photo itself."""
    batches, same, whole, product = [], 0, VIEWS["whole"], VIEWS["product"]
    for start in range(0, len(paths), EXTRACT_BATCH):
        _, photos, _ = loaded_and_prepared(paths[start:start + EXTRACT_BATCH], (VECTORS,), None, decoded_side(backbone))
        same += sum(view is photo for photo, view in zip(photos.views[whole], photos.views[product]))
        if encode_twice:
            photos.views[product] = [view.copy() if view is photo else view for photo, view in zip(photos.views[whole], photos.views[product])]
        batches.append(image_arrays(backbone, photos))
    return batches, same / len(paths)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="folder for the painted copies (default: a temporary one)")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        shot = [str(DATA / row["image"]) for row in list(csv.DictReader(handle))[: a.n]]
    with tempfile.TemporaryDirectory() as scratch:
        out = a.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        painted = []
        for k, path in enumerate(shot):
            painted.append(str(out / f"{k:06d}.jpg"))
            background_painted(Path(path), Path(painted[-1]))
        backbone = load("offline-lite0-minilm")
        photo_work(backbone, painted[:EXTRACT_BATCH])  # warm-up
        ways = {"as shipped": False, "encoded twice (before)": True}
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        arrays, shares = {}, {}
        for _ in range(a.repeats):
            for name, twice in ways.items():
                start = time.perf_counter()
                arrays[name], shares["painted"] = photo_work(backbone, painted, twice)
                seconds[name].append(time.perf_counter() - start)
                print(f"{name}: {seconds[name][-1]:.1f} s", flush=True)
        start = time.perf_counter()
        _, shares["as shot"] = photo_work(backbone, shot)
        shot_s = time.perf_counter() - start
    shipped, before = arrays.values()
    equal = all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(shipped, before))
    ratios = [s / b for s, b in zip(*seconds.values())]
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "photos": len(shot), "batch": EXTRACT_BATCH,
              "product_view_is_the_photo": shares, "painted_seconds": seconds, "as_shot_seconds": shot_s,
              "shipped_over_before_per_repeat": ratios, "arrays_equal": equal}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"photo-views-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"product views that are the photo itself: painted {shares['painted']:.3f}, as shot {shares['as shot']:.3f}")
    print("| photos | way | photos/s per repeat |\n|---|---|---|")
    for name, times in seconds.items():
        print(f"| painted | {name} | {', '.join(f'{len(shot) / t:.1f}' for t in times)} |")
    print(f"| as shot | as shipped | {len(shot) / shot_s:.1f} |")
    print(f"as shipped / before, time per repeat: {', '.join(f'{r:.3f}' for r in ratios)}; arrays equal to the bit: {equal}\n"
          f"(written to {path})")


if __name__ == "__main__":
    main()
