"""Late-fusion baseline: an MLP on the pooled photo and text vectors, [p, t, p*t, |p-t|]."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import pair_loss


class DualModel(nn.Module):
    trainable = True
    learns_words = False
    reads_tokens = False  # region tokens and text token states (`feature_keys.GROUPS`)

    def __init__(self, settings: dict, dims: dict[str, int]):
        super().__init__()
        d = int(settings["dim"])
        self.photo = nn.Sequential(nn.Linear(dims["photo"] + dims["colour"], d), nn.LayerNorm(d))
        self.text = nn.Sequential(nn.Linear(dims["text"], d), nn.LayerNorm(d))
        self.head = nn.Sequential(nn.Linear(4 * d, 2 * d), nn.GELU(), nn.Dropout(0.1), nn.Linear(2 * d, 1))

    def setup(self, feats: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """Nothing to fit before training."""

    @torch.no_grad()
    def prepare(self, feats: dict[str, np.ndarray]) -> dict:
        photo = np.concatenate([feats["photo"], feats["colour"].astype(np.float32).mean(1)], 1)
        return {"photo": torch.from_numpy(photo), "text": torch.from_numpy(feats["text"])}

    def pair_logits(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
        device = self.head[0].weight.device
        p = self.photo(prepared["photo"][photo_rows].to(device))
        t = self.text(prepared["text"][text_rows].to(device))
        return self.head(torch.cat([p, t, p * t, (p - t).abs()], -1)).squeeze(-1)

    def loss(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return pair_loss(self.pair_logits(prepared, text_rows, photo_rows), labels)
