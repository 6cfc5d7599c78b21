"""bench/fusion_training.py's variants of the fusion's training loop: the curriculum's first epoch sees only the easy
pairs, and the contrastive term aligns the fusion's whole-text and whole-photo projections."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from mmaudit.config import TrainConfig, as_dict
from mmaudit.models.fusion import FusionModel

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fusion_training.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("fusion_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_fusion(products: int = 24, seed: int = 0) -> tuple[FusionModel, dict]:
    """A fusion model on random features whose text and photo vectors carry the product's identity."""
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=(products, 8)).astype(np.float32)
    feats = {"regions": rng.normal(size=(products, 4, 12)).astype(np.float16), "colour": rng.random((products, 4, 3)).astype(np.float32),
             "photo": identity + 0.1 * rng.normal(size=identity.shape).astype(np.float32), "text": identity,
             "tokens": rng.normal(size=(products, 6, 5)).astype(np.float16), "mask": np.ones((products, 6), dtype=bool)}
    dims = {"regions": 12, "colour": 3, "photo": 8, "num_regions": 4, "tokens": 5, "text": 8}
    config = TrainConfig(model="fusion", dim=16, layers=1, heads=2, epochs=2, batch_size=16, max_text_tokens=4, patience=5)
    torch.manual_seed(seed)
    model = FusionModel(as_dict(config), dims)
    model.setup(feats, np.arange(products))
    return model, {"prepared": model.prepare(feats), "config": config, "products": products}


def pairs_of(products: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each product with its own photo, the next product's (hard) and one far away (random); label 1: mismatch."""
    own = np.arange(products)
    t = np.concatenate([own, own, own])
    p = np.concatenate([own, (own + 1) % products, (own + products // 2) % products])
    labels = np.concatenate([np.zeros(products), np.ones(2 * products)]).astype(np.int64)
    kinds = np.array(["positive"] * products + ["hard_photo"] * products + ["random"] * products)
    return t, p, labels, kinds


def test_curriculum_starts_with_positives_and_random_negatives_only():
    bench = load_bench()
    model, run = tiny_fusion()
    t, p, labels, kinds = pairs_of(run["products"])
    loop = bench.make_train_fold("curriculum", {0: kinds})
    val_logits, history = loop(model, run["prepared"], (t, p, labels), (t, p, labels), run["config"], torch.device("cpu"), 0, 0)
    assert [e["pairs"] for e in history["epochs"]] == [2 * run["products"], 3 * run["products"]]
    assert val_logits.shape == (len(t),) and np.isfinite(val_logits).all()


def test_contrastive_term_is_lower_for_a_batch_of_matched_pairs_than_for_shuffled_ones():
    bench = load_bench()
    model, run = tiny_fusion()
    with torch.no_grad():  # identity projections: the whole text and the whole photo of a product point the same way
        for projection in (model.text_global, model.photo_global):
            projection.weight.copy_(torch.eye(16, 8))
            projection.bias.zero_()
    rows = torch.arange(run["products"])
    matched = bench.contrastive_loss(model, run["prepared"], rows, rows)
    shuffled = bench.contrastive_loss(model, run["prepared"], rows, torch.roll(rows, 1))
    assert matched < shuffled
    assert float(bench.contrastive_loss(model, run["prepared"], rows[:1], rows[:1])) == 0.0  # no batch to contrast with
