"""A demo catalog the project draws itself: coloured shapes with matching titles, a few photos exchanged.

Used by the README's first command (an audit that needs no data and no network) and by the tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (200, 30, 30), "blue": (30, 60, 200), "green": (30, 150, 60), "yellow": (230, 200, 30),
           "purple": (120, 40, 160), "orange": (240, 130, 20), "black": (20, 20, 20), "pink": (240, 120, 170)}
SHAPES = {"circle": "round pendant", "square": "square tile", "triangle": "triangle pennant", "bar": "slim bar brooch"}


def draw(shape: str, colour: tuple[int, int, int], rng: np.random.Generator, size: int = 96) -> Image.Image:
    image = Image.new("RGB", (size, size), (245, 245, 245))
    pen = ImageDraw.Draw(image)
    margin = int(rng.integers(8, 20))
    box = (margin, margin, size - margin, size - margin)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(size // 2, margin), (size - margin, size - margin), (margin, size - margin)], fill=colour)
    else:
        pen.rectangle((margin, size // 2 - 8, size - margin, size // 2 + 8), fill=colour)
    noise = rng.normal(0, 4, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def make_catalog(folder: Path, products: int = 160, swaps: int = 6, seed: int = 0) -> Path:
    """Write products.csv + images/ + truth.csv (which products show another's photo) into `folder`."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(products):
        colour = list(COLOURS)[i % len(COLOURS)]
        shape = list(SHAPES)[(i // len(COLOURS)) % len(SHAPES)]
        name = f"images/p{i:04d}.png"
        draw(shape, COLOURS[colour], rng).save(folder / name)
        rows.append({"id": f"P{i:04d}", "image": name, "title": f"{colour.title()} {SHAPES[shape]} no. {i}",
                     "description": f"A {colour} {shape} shaped accessory, demo item {i}.", "colour": colour, "shape": shape})
    photo_of = {r["id"]: r["id"] for r in rows}
    order = rng.permutation(products)
    used: set[int] = set()
    for a in order:  # exchange photos between products of the same shape and another colour
        if len(used) >= 2 * swaps or a in used:
            continue
        for b in order:
            if b not in used and b != a and rows[b]["shape"] == rows[a]["shape"] and rows[b]["colour"] != rows[a]["colour"]:
                used |= {a, b}
                rows[a]["image"], rows[b]["image"] = rows[b]["image"], rows[a]["image"]
                photo_of[rows[a]["id"]], photo_of[rows[b]["id"]] = rows[b]["id"], rows[a]["id"]
                break
    with open(folder / "products.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(folder / "truth.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "swapped", "photo_of"])
        for r in rows:
            writer.writerow([r["id"], int(photo_of[r["id"]] != r["id"]), photo_of[r["id"]] if photo_of[r["id"]] != r["id"] else ""])
    return folder / "products.csv"
