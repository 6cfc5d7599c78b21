"""Zero-shot baseline, no training.

Where the backbone embeds photos and texts in one space (`"shared_space": true`, e.g. BLIP's
contrastive projections), the mismatch logit is minus their cosine. The offline towers share no
space, so there the photo's nearest photo neighbours in the catalog (not the same file) vote with
their texts: the mismatch logit is minus the mean text cosine to those neighbours (the text's product with their mean
text vector).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import backbones
from ..neighbours import build_index, search

NEIGHBOURS = 5
VOTE_ROWS = 16_384  # photos whose neighbours' texts are gathered at once: all at once would hold 5 texts a photo


class ZeroShotModel(nn.Module):
    trainable = False
    learns_words = False
    reads_tokens = False  # region tokens and text token states (`feature_keys.GROUPS`)

    def __init__(self, settings: dict, dims: dict[str, int]):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)  # keeps save/load uniform
        self.shared_space = bool(backbones.get_config(settings["backbone"]).get("shared_space")) if settings.get("backbone") else False

    def setup(self, feats: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Nothing to fit."""

    @torch.no_grad()
    def prepare(self, feats: dict[str, np.ndarray]) -> dict:
        if self.shared_space:
            return {"text": torch.from_numpy(feats["text"]), "photo": torch.from_numpy(feats["photo"])}
        sims, nn_rows = search(build_index(feats["photo"]), feats["photo"], NEIGHBOURS + 1)
        neighbours = np.empty((len(nn_rows), NEIGHBOURS), dtype=np.int64)
        for i, (row_sims, rows) in enumerate(zip(sims, nn_rows)):
            others = [r for r, s in zip(rows, row_sims) if r != i and s < 0.9999][:NEIGHBOURS]
            neighbours[i] = (others + [i] * NEIGHBOURS)[:NEIGHBOURS]
        # the mean text cosine to a photo's neighbours is the text's product with their mean text vector: one vector
        # a photo, gathered per pair instead of NEIGHBOURS
        votes = np.empty((len(neighbours), feats["text"].shape[1]), dtype=np.float32)
        for start in range(0, len(neighbours), VOTE_ROWS):
            votes[start:start + VOTE_ROWS] = feats["text"][neighbours[start:start + VOTE_ROWS]].mean(1, dtype=np.float32)
        return {"text": torch.from_numpy(feats["text"]), "votes": torch.from_numpy(votes)}

    def pair_logits(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
        device = self.scale.device  # the prepared features stay on the CPU; a batch of them moves where the model is
        text = prepared["text"][text_rows].to(device)  # [B, D]
        photo = prepared["photo" if self.shared_space else "votes"][photo_rows].to(device)  # [B, D]
        return -self.scale * (photo * text).sum(-1)
