"""Different files that look the same (perceptual hash within a few bits) on different products."""

import faiss
import numpy as np
import pandas as pd

from . import register


@register("near_duplicate_photo")
def near_duplicate_photo(catalog: pd.DataFrame, config: object) -> tuple[np.ndarray, np.ndarray]:
    has = (catalog["image_phash"] != "").to_numpy()
    score = np.full(len(catalog), np.nan)
    rows = np.flatnonzero(has)
    if len(rows) == 0:
        return score, np.zeros(len(catalog), bool)
    codes = np.frombuffer(b"".join(bytes.fromhex(h) for h in catalog["image_phash"].iloc[rows]), dtype=np.uint8).reshape(-1, 8)
    sha = catalog["image_sha256"].iloc[rows].to_numpy()
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    limits, distances, labels = index.range_search(codes, int(config.near_duplicate_bits) + 1)
    counts = np.zeros(len(rows))
    for i in range(len(rows)):
        found = labels[limits[i]:limits[i + 1]]
        counts[i] = int(np.sum(sha[found] != sha[i]))  # an identical file is the duplicate check's finding
    score[rows] = counts
    return score, np.nan_to_num(score) > 0
