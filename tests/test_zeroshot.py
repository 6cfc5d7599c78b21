"""The zero-shot pair model on towers without a shared space: a photo's look-alikes vote with their texts."""

from __future__ import annotations

import numpy as np
import torch

from mmaudit.models.zeroshot import NEIGHBOURS, ZeroShotModel


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_logit_is_minus_the_mean_text_cosine_of_the_photos_nearest_other_photos():
    """Brute force: for each pair, of the NEIGHBOURS + 1 photos most like the pair's photo, those that are neither the
    photo itself nor an exact copy of it give their text's cosine with the pair's text, the photo's own text filling
    the places they leave; the logit is minus the mean of the NEIGHBOURS cosines."""
    rng = np.random.default_rng(0)
    photo = unit(rng.normal(size=(60, 16)))
    photo[7] = photo[3]  # an exact copy (the same file twice) does not vote for itself
    text = unit(rng.normal(size=(60, 8)))
    model = ZeroShotModel({}, {})
    prepared = model.prepare({"photo": photo, "text": text})
    text_rows, photo_rows = rng.integers(0, 60, 200), rng.integers(0, 60, 200)
    logits = model.pair_logits(prepared, torch.from_numpy(text_rows), torch.from_numpy(photo_rows)).numpy()
    for logit, t, p in zip(logits, text_rows, photo_rows):
        similarity = photo @ photo[p]
        nearest = np.argsort(-similarity, kind="stable")[:NEIGHBOURS + 1]
        voters = ([j for j in nearest if j != p and similarity[j] < 0.9999] + [p] * NEIGHBOURS)[:NEIGHBOURS]
        assert abs(logit - -(text[voters] @ text[t]).mean()) < 1e-5
