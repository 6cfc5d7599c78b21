#!/usr/bin/env python3
"""Milliseconds per photo of the steps that find a photo's product pixels (the product view, the palette), count
its colours (the palette's histograms) and sum them per region (the colour statistics), as shipped against the way
before, side by side.

    python bench/photo_steps.py [--n 300] [--repeats 3]

The first N photos of ../shared/datasets/myntra-fashion, decoded beforehand: the product view
(`images.product_view`) and the palette (`features.palettes`, of one photo). The way before: each pixel's largest and
smallest channel by numpy's max and min over the last axis (`images.channel_extremes` takes them channel against
channel); for the palette's histograms, numpy's histogram2d and histogramdd (`features.coarse_histogram` and
`fine_histogram` count bin indices with np.bincount); the palettes of the photos of a batch (8, as the towers take
them) one photo at a time (`features.palettes` counts them at once); for the colour statistics
(`features.colour_stats`, a 7 x 7 grid with a leading token), numpy's mean and std per cell in float32 (shipped: sums
of the pixels and their squares in float64).
Alternated `--repeats` times; prints the best of each, the ratio, and how far the results are apart. Ratios within
one run are what to compare.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from mmaudit import features, images

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"


@contextmanager
def extremes_before():
    shipped = images.channel_extremes
    images.channel_extremes = features.channel_extremes = lambda pixels: (pixels.max(-1), pixels.min(-1))
    try:
        yield
    finally:
        images.channel_extremes = features.channel_extremes = shipped


def coarse_by_histogram2d(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    grey = s < 0.15
    hues = np.histogram2d(h[~grey] * 18 % 18, np.minimum(v[~grey] * 3, 2.999), bins=[18, 3], range=[[0, 18], [0, 3]])[0].ravel()
    saturation = np.histogram(np.minimum(s[~grey] * 3, 2.999), bins=3, range=(0, 3))[0]
    greys = np.histogram(v[grey], bins=6, range=(0, 1))[0]
    return features.normalized(np.concatenate([hues, saturation, greys]))


def fine_by_histogramdd(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    grey = s < 0.1
    colours = np.column_stack([h[~grey] * 24 % 24, np.digitize(s[~grey], [0.35, 0.65]), np.minimum(v[~grey] * 4, 3.999)])
    hues = np.histogramdd(colours, bins=[24, 3, 4], range=[[0, 24], [0, 3], [0, 4]])[0].ravel()
    greys = np.histogram(v[grey], bins=8, range=(0, 1))[0]
    return features.normalized(np.concatenate([hues, greys]))


def each_photo_apart(histogram):
    """A histogram of one photo's pixels as the shipped ones are called: for the pixels of several photos at once."""
    def counted(h: np.ndarray, s: np.ndarray, v: np.ndarray, photo: np.ndarray, photos: int) -> np.ndarray:
        return np.stack([histogram(h[photo == k], s[photo == k], v[photo == k]) for k in range(photos)])
    return counted


@contextmanager
def histograms_before():
    shipped = features.coarse_histogram, features.fine_histogram
    features.coarse_histogram, features.fine_histogram = each_photo_apart(coarse_by_histogram2d), each_photo_apart(fine_by_histogramdd)
    try:
        yield
    finally:
        features.coarse_histogram, features.fine_histogram = shipped


def colour_stats_by_mean_and_std(image, regions: int) -> np.ndarray:
    grid = math.isqrt(regions)
    side = grid * 8
    pixels = np.asarray(images.as_rgb(image).resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255.0
    cells = pixels.reshape(grid, 8, grid, 8, 3).transpose(0, 2, 1, 3, 4).reshape(grid ** 2, 64, 3)
    stats = np.concatenate([cells.mean(1), cells.std(1)], axis=1)
    whole = pixels.reshape(-1, 3)
    leading = np.tile(np.concatenate([whole.mean(0), whole.std(0)]), (regions - grid ** 2, 1))
    return np.concatenate([leading, stats]).astype(np.float16)


@contextmanager
def colour_stats_before():
    shipped = features.colour_stats
    features.colour_stats = colour_stats_by_mean_and_std
    try:
        yield
    finally:
        features.colour_stats = shipped


@contextmanager
def palettes_one_at_a_time():
    shipped = features.palettes
    features.palettes = lambda photos: np.concatenate([shipped([photo]) for photo in photos])
    try:
        yield
    finally:
        features.palettes = shipped


BATCH = 8  # photos per call of the towers (features.EXTRACT_BATCH), as make-negatives prepares them


def each(step):
    """A step of one photo, over a list of photos."""
    return lambda photos: [step(photo) for photo in photos]


def in_batches(step):
    """A step of a batch of photos, over a list of photos `BATCH` at a time (each photo's result)."""
    return lambda photos: [row for start in range(0, len(photos), BATCH) for row in step(photos[start:start + BATCH])]


def per_photo(steps, photos: list) -> tuple[float, list]:
    start = time.perf_counter()
    out = steps(photos)
    return (time.perf_counter() - start) / len(photos) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with open(DATA / "products.csv", encoding="utf-8") as handle:
        photos = [images.load_rgb(DATA / row["image"]) for row, _ in zip(csv.DictReader(handle), range(a.n))]
    one_palette = each(lambda p: features.palettes([p])[0])
    steps = {"product view": (each(lambda p: np.asarray(images.product_view(p))), extremes_before),
             "palette": (one_palette, extremes_before), "palette's histograms": (one_palette, histograms_before),
             f"palettes, {BATCH} photos at once": (in_batches(lambda batch: features.palettes(batch)), palettes_one_at_a_time),
             "colour statistics": (each(lambda p: features.colour_stats(p, 50)), colour_stats_before)}
    print(f"{len(photos)} photos, best of {a.repeats} alternated runs")
    print("| step | before, ms per photo | shipped, ms per photo | shipped / before | results apart |\n|---|---|---|---|---|")
    for name, (step, before) in steps.items():
        times: dict[str, list[float]] = {"before": [], "shipped": []}
        for _ in range(a.repeats):
            with before():
                seconds, old = per_photo(step, photos)
            times["before"].append(seconds)
            seconds, new = per_photo(step, photos)
            times["shipped"].append(seconds)
        apart = max(float(np.abs(x.astype(np.float32) - y.astype(np.float32)).max()) if x.shape == y.shape else np.inf
                    for x, y in zip(old, new))
        best = {k: min(v) for k, v in times.items()}
        print(f"| {name} | {best['before']:.2f} | {best['shipped']:.2f} | {best['shipped'] / best['before']:.2f} | {apart:.2g} |")


if __name__ == "__main__":
    main()
