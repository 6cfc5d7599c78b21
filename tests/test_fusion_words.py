"""The fusion model's word task: from the fused text and photo, the words the photo's own text states. A pair whose
photo is another product's must be answered from the photo's regions, not copied from the text read."""

from __future__ import annotations

import numpy as np
import torch

from mmaudit import train
from mmaudit.config import TrainConfig, as_dict
from mmaudit.models import learns_words
from mmaudit.models.fusion import FusionModel
from mmaudit.models.losses import pair_loss

COLOURS = 3  # words 0-2: each product's colour; word 3: stated by every other product, shown by nothing


def colour_catalog(products: int = 60, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Features where a product's colour is in its photo's regions and in its text's tokens, and nowhere else."""
    rng = np.random.default_rng(seed)
    colour = np.arange(products) % COLOURS
    shown = np.eye(COLOURS, dtype=np.float32)[colour]
    regions = rng.normal(0, 0.3, (products, 4, 6)).astype(np.float32)
    regions[:, :, :COLOURS] += 2 * shown[:, None]
    tokens = rng.normal(0, 0.3, (products, 5, 4)).astype(np.float32)
    tokens[:, 1, :COLOURS] += 2 * shown
    words = np.zeros((products, COLOURS + 1), dtype=np.uint8)
    words[np.arange(products), colour] = 1
    words[::2, COLOURS] = 1
    feats = {"regions": regions.astype(np.float16), "colour": rng.random((products, 4, 3)).astype(np.float32),
             "photo": rng.normal(size=(products, 8)).astype(np.float32), "text": rng.normal(size=(products, 8)).astype(np.float32),
             "tokens": tokens.astype(np.float16), "mask": np.ones((products, 5), dtype=bool), "words": words}
    return feats, colour


def fusion_on(feats: dict, word_weight: float) -> tuple[FusionModel, dict, TrainConfig]:
    dims = {"regions": 6, "colour": 3, "photo": 8, "num_regions": 4, "tokens": 4, "text": 8, "words": feats["words"].shape[1]}
    config = TrainConfig(model="fusion", dim=16, layers=1, heads=2, epochs=40, batch_size=32, max_text_tokens=5, patience=40,
                         lr=3e-3, fusion_word_loss=word_weight)
    torch.manual_seed(0)
    model = FusionModel(as_dict(config), dims)
    model.setup(feats, np.arange(len(feats["words"])))
    return model, model.prepare(feats), config


def test_the_word_task_reads_the_photo_s_colour_where_the_text_names_another():
    assert learns_words("fusion") and not learns_words("zeroshot") and not learns_words("dual")
    feats, colour = colour_catalog()
    own = np.arange(len(colour))
    t = np.concatenate([own, own, own])
    p = np.concatenate([own, (own + 1) % len(own), (own + 2) % len(own)])  # the next products: another colour
    labels = (colour[t] != colour[p]).astype(np.int64)
    model, prepared, config = fusion_on(feats, 1.0)
    train.train_fold(model, prepared, (t, p, labels), (t, p, labels), config, torch.device("cpu"), 0, 0)
    model.eval()
    crossed = labels == 1
    with torch.no_grad():
        fused = model.fused(prepared, torch.from_numpy(t[crossed]), torch.from_numpy(p[crossed]))
        read = model.words(fused)[:, :COLOURS].argmax(1).numpy()
    assert (read == colour[p[crossed]]).mean() > 0.9  # the photo's colour, though the text read names another


def test_without_the_word_task_the_loss_is_the_matching_alone():
    feats, colour = colour_catalog(12)
    model, prepared, _ = fusion_on(feats, 0.0)
    model.eval()  # no dropout: the two computations see the same network
    assert model.words is None and "words" not in prepared
    rows = torch.arange(12)
    labels = torch.zeros(12, dtype=torch.long)
    assert torch.equal(model.loss(prepared, rows, rows, labels), pair_loss(model.pair_logits(prepared, rows, rows), labels))
    with_words, prepared_words, _ = fusion_on(feats, 1.0)
    with_words.eval()
    assert with_words.loss(prepared_words, rows, rows, labels) > pair_loss(with_words.pair_logits(prepared_words, rows, rows), labels)
