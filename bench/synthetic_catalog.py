#!/usr/bin/env python3
"""A catalog of any size made from the shared one, to exercise the code at scale (not to measure quality).

    python bench/synthetic_catalog.py N OUT [--features BASE_CACHE]

Product k is a variant of the shared catalog's product k mod 9,583 (variant v = k div 9,583): its photo is that
product's photo cropped by a few pixels, mirrored on odd variants and made a little lighter or darker (a new file, new
bytes, a picture of its own); its description gets " (lot v)" from the second variant on (a text of its own); its other
columns, the title too, are copied. The title stays the base's: the title slots are mined from titles "the same but
for one word", and a word added to every copy's title would count each such pair of titles again and merge the slots
(docs/decisions/2026-12-02-synthetic-copies-keep-titles.md).
Writes OUT/products.csv and OUT/images/.

`--features BASE_CACHE` also writes, into OUT/features, the feature cache the offline default would compute for the
synthetic products, made from the base products' cached features (BASE_CACHE must hold the shared catalog's: run any
`make-negatives` on it with that `--cache-dir`) with a little noise on the pooled vectors: the stages after the towers
then run at any size without the towers' time, which is per photo and per text and measured on its own
(`bench/audit_speed.py`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"
BACKBONE = "offline-lite0-minilm"


def variant_photo(source: Path, target: Path, variant: int) -> None:
    """The base photo cropped by 1-4 pixels a side, mirrored on odd variants, brightness 0.94-1.06."""
    with Image.open(source) as image:
        image = image.convert("RGB")
        margin = 1 + variant % 4
        image = image.crop((margin, margin, image.width - margin, image.height - margin))
        if variant % 2:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image = ImageEnhance.Brightness(image).enhance(1 + 0.02 * (variant % 7 - 3))
        image.save(target, quality=90)


def write_catalog(n: int, out: Path) -> pd.DataFrame:
    """OUT/products.csv and OUT/images/ of `n` variants (kept when they are already there, the same)."""
    from rich.progress import track

    base = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False)
    k = np.arange(n)
    rows = base.iloc[k % len(base)].reset_index(drop=True)
    variant = k // len(base)
    rows.insert(0, "base_id", rows["id"])
    rows["id"] = [f"syn{i}" for i in k]
    rows["description"] = [d if v == 0 else f"{d} (lot {v})" for d, v in zip(rows.description, variant)]
    rows["image"] = [f"images/{i}.jpg" for i in k]
    catalog = out / "products.csv"
    if catalog.exists():  # kept when written for this `n` in this layout (an older one marked the copies' titles)
        written = pd.read_csv(catalog, usecols=["id", "title", "description"], dtype=str, keep_default_na=False)
        if written.equals(rows[["id", "title", "description"]]):
            return rows
    (out / "images").mkdir(parents=True, exist_ok=True)
    for i, base_image, v in track(list(zip(k, base.image.iloc[k % len(base)], variant)), description="photos",
                                  console=_stderr()):
        variant_photo(DATA / base_image, out / "images" / f"{i}.jpg", int(v))
    rows.drop(columns="base_id").to_csv(catalog, index=False)
    return rows


def fill_features(rows: pd.DataFrame, out: Path, cache: Path, base_cache: Path, seed: int = 0) -> Path:
    """`cache`: the base products' cached arrays under the keys of the synthetic products (`rows`, photos under `out`),
    pooled vectors jittered."""
    from mmaudit.backbones import get_config
    from mmaudit.feature_keys import PHOTO_KIND, TEXT_KIND, VIEWS
    from mmaudit.features import FeatureStore, text_key
    from mmaudit.images import file_sha256
    from mmaudit.ingest import compose_text

    base_store, store = FeatureStore(base_cache, get_config(BACKBONE)), FeatureStore(cache, get_config(BACKBONE))
    rng = np.random.default_rng(seed)
    base_rows = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False).set_index("id").loc[rows.base_id]
    photo_keys = [file_sha256(DATA / p) for p in base_rows.image]
    text_keys = [text_key(t) for t in compose_text(base_rows.reset_index(), ["title", "description"])]
    new_photo_keys = [file_sha256(out / p) for p in rows.image]
    new_text_keys = [text_key(t) for t in compose_text(rows, ["title", "description"])]
    for kind, old, new, pooled in ((PHOTO_KIND, photo_keys, new_photo_keys, [f"{p}pooled" for p in VIEWS.values()]),
                                   (TEXT_KIND, text_keys, new_text_keys, ["pooled"])):
        done = set(store.index(kind))
        todo = [i for i, key in enumerate(new) if key not in done]
        for start in range(0, len(todo), store.shard_size):
            chunk = todo[start:start + store.shard_size]
            arrays = base_store.load(kind, [old[i] for i in chunk])
            for name in pooled:
                jittered = arrays[name] + rng.normal(0, 0.02, arrays[name].shape).astype(np.float32)
                arrays[name] = jittered / np.linalg.norm(jittered, axis=1, keepdims=True)
            store.write_shard(kind, [new[i] for i in chunk], arrays)
    return cache


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--features", type=Path, help="a cache holding the shared catalog's features")
    a = ap.parse_args()
    rows = write_catalog(a.n, a.out)
    if a.features:
        print(fill_features(rows, a.out, a.out / "features", a.features), file=sys.stderr)


if __name__ == "__main__":
    main()
