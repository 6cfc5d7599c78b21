"""A demo catalog the project draws itself: coloured, sized, patterned shapes with matching titles, a few photos exchanged.

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
SIZES = {"large": 8, "small": 24}  # margin in pixels
PATTERNS = ("plain", "striped", "dotted")


def draw(shape: str, colour: tuple[int, int, int], size_name: str, pattern: str, rng: np.random.Generator,
         size: int = 96) -> Image.Image:
    image = Image.new("RGB", (size, size), (245, 245, 245))
    pen = ImageDraw.Draw(image)
    margin = SIZES[size_name] + int(rng.integers(0, 4))
    box = (margin, margin, size - margin, size - margin)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    elif shape == "triangle":
        pen.polygon([(size // 2, margin), (size - margin, size - margin), (margin, size - margin)], fill=colour)
    else:
        pen.rectangle((margin, size // 2 - 8, size - margin, size // 2 + 8), fill=colour)
    if pattern == "striped":
        for y in range(0, size, 12):
            pen.rectangle((0, y, size, y + 3), fill=(245, 245, 245))
    elif pattern == "dotted":
        for y in range(6, size, 16):
            for x in range(6, size, 16):
                pen.ellipse((x, y, x + 5, y + 5), fill=(245, 245, 245))
    noise = rng.normal(0, 4, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def make_catalog(folder: Path, products: int = 160, swaps: int = 6, seed: int = 0) -> Path:
    """Write products.csv + images/ + truth.csv (which products show another's photo) into `folder`."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(products):  # every (colour, shape, size, pattern) once before any repeats
        colour = list(COLOURS)[i % len(COLOURS)]
        shape = list(SHAPES)[(i // len(COLOURS)) % len(SHAPES)]
        size_name = list(SIZES)[(i // (len(COLOURS) * len(SHAPES))) % len(SIZES)]
        pattern = PATTERNS[(i // (len(COLOURS) * len(SHAPES) * len(SIZES))) % len(PATTERNS)]
        name = f"images/p{i:04d}.png"
        draw(shape, COLOURS[colour], size_name, pattern, rng).save(folder / name)
        rows.append({"id": f"P{i:04d}", "image": name, "title": f"{colour.title()} {size_name} {pattern} {SHAPES[shape]}",
                     "description": f"A {size_name} {colour} {shape} shaped accessory with a {pattern} finish (demo item {i}).",
                     "colour": colour, "shape": shape, "size": size_name, "pattern": pattern})
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
