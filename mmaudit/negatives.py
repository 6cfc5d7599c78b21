"""`mmaudit make-negatives`: pair each product's text with similar products' photos (hard negatives).

Products are split into folds (by product, or by group when a group column is given). Negatives
are drawn within a product's own fold, so a model trained on the other folds has never seen
any pair that involves the products it will score (cross-fitting).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from . import schema
from .allocator import no_huge_pages
from .config import EngineConfig, NegativesConfig, as_dict
from .errors import SchemaError
from .features import open_store, product_features
from .files import write_table
from .neighbours import build_index, search
from .progress import log


def assign_folds(keys, folds: int, seed: int) -> np.ndarray:
    """A fold per product from a seeded hash of its id (or its group), stable when rows are added."""
    return np.array([int(hashlib.sha256(f"{seed}/{k}".encode()).hexdigest()[:8], 16) % folds for k in keys], dtype=np.int32)


NEAR_DUPLICATE_COLOUR = 0.03  # mean absolute RGB difference per region (0-1 scale) below which colours match


class Guard:
    """Whether pairing text i with photo j would be a false negative (the same product in truth)."""

    def __init__(self, products: pd.DataFrame, feats: dict[str, np.ndarray], config: NegativesConfig):
        self.sha = products.image_sha256.to_numpy()
        self.text = products.text.to_numpy()
        self.group = products[config.group_col].to_numpy() if config.group_col else None
        self.photo = feats["photo"]
        self.colour = feats["colour"][:, :, :3].astype(np.float32)  # mean R, G, B per region
        self.cosine = config.near_duplicate_cosine
        self.rejected = {"same_photo": 0, "near_duplicate": 0, "same_group": 0, "same_text": 0}

    def allows(self, i: int, j: int) -> bool:
        if i == j:
            return False
        reason = None
        if self.sha[i] == self.sha[j]:
            reason = "same_photo"
        elif self.near_duplicate(i, j):
            reason = "near_duplicate"
        elif self.group is not None and self.group[i] == self.group[j] and self.group[i] != "":
            reason = "same_group"
        elif self.text[i] == self.text[j]:
            reason = "same_text"
        if reason:
            self.rejected[reason] += 1
        return reason is None

    def near_duplicate(self, i: int, j: int) -> bool:
        """The same picture re-encoded or resized: alike to the tower and in colour, region by region.
        (A perceptual hash is blind to colour: it would call a red and a maroon tie duplicates, and
        those are exactly the negatives a model must learn from.)"""
        if float(self.photo[i] @ self.photo[j]) <= self.cosine:
            return False
        return float(np.abs(self.colour[i] - self.colour[j]).mean()) < NEAR_DUPLICATE_COLOUR


def _fold_pairs(members: np.ndarray, photo: np.ndarray, text: np.ndarray, guard: Guard,
                config: NegativesConfig, rng: np.random.Generator) -> list[tuple]:
    """(text row, photo row, label, kind, rank, similarity) for the products of one fold."""
    rows: list[tuple] = []
    reach = min(len(members), config.k * 3 + 1)
    photo_sim, photo_nn = search(build_index(photo[members]), photo[members], reach)
    text_sim, text_nn = search(build_index(text[members]), text[members], reach)
    for a, i in enumerate(members):
        rows.append((i, i, 0, "positive", 0, float(photo[i] @ photo[i])))
        taken = {i}
        for kind, count, sims, nns in (("hard_photo", config.hard_photo, photo_sim[a], photo_nn[a]),
                                       ("hard_text", config.hard_text, text_sim[a], text_nn[a])):
            allowed = [(r, members[n], s) for r, (n, s) in enumerate(zip(nns, sims)) if n >= 0 and members[n] not in taken
                       and guard.allows(i, members[n])][: config.k]
            for pick in rng.permutation(len(allowed))[:count]:
                rank, j, _ = allowed[pick]
                taken.add(j)
                rows.append((i, j, 1, kind, rank, float(photo[i] @ photo[j])))
        for _ in range(config.random):
            for _attempt in range(10):
                j = int(members[rng.integers(len(members))])
                if j not in taken and guard.allows(i, j):
                    taken.add(j)
                    rows.append((i, j, 1, "random", -1, float(photo[i] @ photo[j])))
                    break
    return rows


def run(catalog_path: Path, out: Path, config: NegativesConfig | None = None,
        engine: EngineConfig | None = None) -> tuple[Path, pd.DataFrame]:
    """Build pairs.parquet from catalog.parquet (features computed by `engine`); return its path and a summary table."""
    config = config or NegativesConfig()
    no_huge_pages()  # the features and pairs are filled once each (the towers' memory is torch's, which asks for none)
    catalog = schema.read(catalog_path, "catalog")
    if config.group_col and config.group_col not in catalog.columns:
        raise SchemaError(f"{catalog_path}: no group column {config.group_col!r}; columns are {list(catalog.columns)}")
    products = schema.ok_products(catalog, catalog_path)
    store = open_store(catalog_path, config.backbone, config.cache_dir, engine)
    feats = product_features(store, products, config.batch_size)
    folds = assign_folds(products[config.group_col] if config.group_col else products.product_id, config.folds, config.seed)
    guard = Guard(products, feats, config)
    rng = np.random.default_rng(config.seed)
    rows = []
    for fold in range(config.folds):
        members = np.flatnonzero(folds == fold)
        rows += [r + (fold,) for r in _fold_pairs(members, feats["photo"], feats["text"], guard, config, rng)]
    ids = products.product_id.to_numpy()
    pairs = pd.DataFrame(rows, columns=["t", "p", "label", "kind", "rank", "similarity", "fold"])
    pairs = pd.DataFrame({
        "text_product_id": ids[pairs.t], "photo_product_id": ids[pairs.p], "label": pairs.label.astype(np.int8),
        "kind": pairs.kind, "rank": pairs["rank"].astype(np.int32), "similarity": pairs.similarity.astype(np.float32),
        "fold": pairs.fold.astype(np.int32), "split": "fold" + pairs.fold.astype(str),
    })
    settings = {**as_dict(config), "catalog": str(Path(catalog_path).resolve()), "guard_rejected": guard.rejected,
                "features_computed": dict(store.computed)}
    log.info("guards rejected %s", guard.rejected)
    write_table(schema.to_table(pairs, "pairs", settings), out)
    summary = pairs.groupby("kind").agg(pairs=("label", "size"), mean_photo_cosine=("similarity", "mean")).reset_index()
    summary["mean_photo_cosine"] = summary.mean_photo_cosine.round(3)
    summary.loc[len(summary)] = ["guard rejections", sum(guard.rejected.values()), float("nan")]
    return Path(out), summary
