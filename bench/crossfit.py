#!/usr/bin/env python3
"""What cross-fitting gives, measured in the product's own scoring path.

    python bench/crossfit.py --case bench-out/hard10 [--model model-zeroshot] [--cache-dir bench-out/features]

CASE is a contaminated catalog that `bench/quality.py` has run (CASE/w holds catalog.parquet and the model,
CASE/truth.csv the truth). The shipped judge scores each product with attribute heads that never saw it
(out of fold); the same judge is then given heads trained on every product, the ones they then score (in
fold). Prints recall at precision 0.5 of the pair score alone and of the full score (pair + exchanges).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mmaudit import schema  # noqa: E402
from mmaudit.devices import pick_device  # noqa: E402
from mmaudit.features import dims_of, open_store, product_features  # noqa: E402
from mmaudit.models.attributes import AttributeHeads, encode_values, input_sizes  # noqa: E402
from mmaudit.exchanges import candidates, one_exchange_each, score_chunk  # noqa: E402
from mmaudit.flag_threshold import combine, robust_scales  # noqa: E402
from mmaudit.models.judge import CatalogJudge, Judge  # noqa: E402
from mmaudit.score import CHUNK  # noqa: E402


def recall_at_half(score: np.ndarray, truth: np.ndarray) -> float:
    order = np.argsort(-score)
    hits = np.cumsum(truth[order])
    precise = np.flatnonzero(hits / np.arange(1, len(order) + 1) >= 0.5)
    return float(hits[precise.max()] / truth.sum()) if len(precise) else 0.0


def evaluate(judge: CatalogJudge, feats: dict, truth: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(truth))
    own_pairs = judge.pair_model_logits(rows, rows)
    own, fit = judge.weighed(own_pairs, rows, rows), judge.weighed(own_pairs, rows, rows, "fit")
    cands = candidates(feats, 10)
    scored = pd.concat([score_chunk(judge, rows[s:s + CHUNK], cands, own) for s in range(0, len(rows), CHUNK)], ignore_index=True)
    gain = one_exchange_each(scored).swap_gain.to_numpy()
    return recall_at_half(fit, truth), recall_at_half(combine(fit, gain, robust_scales(fit, gain)), truth)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", type=Path, required=True)
    ap.add_argument("--model", default="model-zeroshot")
    ap.add_argument("--cache-dir", default=str(ROOT / "bench-out" / "features"))
    a = ap.parse_args()
    work = a.case / "w"
    catalog = schema.read(work / "catalog.parquet", "catalog")
    products = schema.ok_products(catalog, work / "catalog.parquet")
    saved = Judge.load(work / a.model)
    feats = product_features(open_store(work / "catalog.parquet", saved.config["backbone"], a.cache_dir), products)
    truth_table = pd.read_csv(a.case / "truth.csv", dtype=str, keep_default_na=False).set_index("product_id")
    truth = (truth_table.loc[products.product_id].swapped.to_numpy() == "1").astype(int)
    judge = saved.on(feats, products, pick_device("cpu"), 512)
    print("| attribute heads | pair score alone R@P0.5 | full score R@P0.5 |\n|---|---|---|")
    print("| out of fold (shipped) | %.3f | %.3f |" % evaluate(judge, feats, truth), flush=True)
    x = feats["inputs"]
    classes = saved.sources[0].classes
    codes = {name: encode_values(products[name], values)[0] for name, values in classes.items()}
    torch.manual_seed(0)
    heads = AttributeHeads(input_sizes(x), {name: len(v) for name, v in classes.items()}, dims_of(feats))
    judge.claims.parts[0].log_probs = heads.fit(x, codes, 40, 0).log_probs(x)
    print("| in fold (trained on every product) | %.3f | %.3f |" % evaluate(judge, feats, truth), flush=True)


if __name__ == "__main__":
    main()
