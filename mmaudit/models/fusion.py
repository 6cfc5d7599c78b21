"""The fusion encoder: text tokens attend to photo regions through cross-attention, then a mismatch head.

Text: a token for the whole text (the pooled sentence vector) then the first tokens, where the
title (the densest claims: type, colour, brand) sits. Photo regions (tower channels reduced by a PCA fitted on the training photos, plus per-region
colour statistics the tower blurs) become memory tokens; each layer runs text self-attention,
cross-attention from text to regions, and a feed-forward block (as ALBEF/BLIP fusion layers).

Two tasks train it. The matching: is the photo the text's (the whole-text token's output, a mismatch logit). The words:
from the same fused output, which words of the catalog's text vocabulary (`words.py`'s, of every text column) the
photo's own text states, weighed by `train.fusion_word_loss` (0: off). For a pair whose photo is another product's, the
words of the text read and those to predict differ where the two products differ (a colour, a kind), so the fusion
must read them from the photo's regions: the token-level signal that image-conditioned word prediction gives ALBEF and
BLIP, with the catalog's own words as labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import pair_loss, word_loss

PCA_DIM = 256


def fit_pca(regions: np.ndarray, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-`dim` principal directions of region vectors ([N, R, C], sampled)."""
    flat = regions.reshape(-1, regions.shape[-1])
    rng = np.random.default_rng(seed)
    sample = flat[rng.choice(len(flat), size=min(len(flat), 50_000), replace=False)].astype(np.float32)
    mean = sample.mean(0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return mean, vt[: min(dim, vt.shape[0])].T.copy()


class FusionModel(nn.Module):
    trainable = True
    reads_tokens = True  # region tokens and text token states (`feature_keys.GROUPS`)
    learns_words = True

    def __init__(self, settings: dict, dims: dict[str, int]):
        super().__init__()
        d, self.pca_dim = int(settings["dim"]), min(PCA_DIM, dims["regions"])
        self.register_buffer("pca_mean", torch.zeros(dims["regions"]))
        self.register_buffer("pca_basis", torch.zeros(dims["regions"], self.pca_dim))
        self.photo_in = nn.Linear(self.pca_dim, d)
        self.colour_in = nn.Linear(dims["colour"], d)
        self.photo_global = nn.Linear(dims["photo"], d)
        self.region_pos = nn.Parameter(torch.zeros(dims["num_regions"] + 1, d))
        self.text_in = nn.Linear(dims["tokens"], d)
        self.text_global = nn.Linear(dims["text"], d)
        self.text_norm, self.photo_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        layer = nn.TransformerDecoderLayer(d, int(settings["heads"]), dim_feedforward=2 * d, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.fusion = nn.TransformerDecoder(layer, int(settings["layers"]))
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))
        self.max_tokens = int(settings["max_text_tokens"])
        self.word_weight = float(settings.get("fusion_word_loss", 0.0))
        self.words = nn.Linear(d, dims["words"]) if dims.get("words") and self.word_weight > 0 else None

    def setup(self, feats: dict[str, np.ndarray], rows: np.ndarray) -> None:
        mean, basis = fit_pca(feats["regions"][rows], self.pca_dim)
        self.pca_mean.copy_(torch.from_numpy(mean))
        self.pca_basis.copy_(torch.from_numpy(basis))

    @torch.no_grad()
    def prepare(self, feats: dict[str, np.ndarray]) -> dict:
        """Per-product tensors computed once per run: reduced regions, text tokens cut to the token budget."""
        reduced = []
        for start in range(0, len(feats["regions"]), 1024):
            block = torch.from_numpy(feats["regions"][start:start + 1024].astype(np.float32))
            reduced.append(((block - self.pca_mean) @ self.pca_basis).half())
        t = self.max_tokens - 1
        return {"regions": torch.cat(reduced), "colour": torch.from_numpy(feats["colour"]),
                "photo": torch.from_numpy(feats["photo"]), "text": torch.from_numpy(feats["text"]),
                "tokens": torch.from_numpy(np.ascontiguousarray(feats["tokens"][:, :t])),
                "mask": torch.from_numpy(np.ascontiguousarray(feats["mask"][:, :t]))} | self.word_targets(feats)

    def word_targets(self, feats: dict[str, np.ndarray]) -> dict:
        """The words each product's text states, where the model learns them (training only: scoring needs none)."""
        if self.words is None or "words" not in feats:
            return {}
        return {"words": torch.from_numpy(feats["words"]), "words_per_text": float(feats["words"].sum(1).mean())}

    def loss(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        fused = self.fused(prepared, text_rows, photo_rows)
        loss = pair_loss(self.head(fused).squeeze(-1), labels)
        if "words" in prepared:
            loss = loss + self.word_weight * word_loss(self.words(fused), prepared["words"][photo_rows], prepared["words_per_text"])
        return loss

    def pair_logits(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
        return self.head(self.fused(prepared, text_rows, photo_rows)).squeeze(-1)

    def fused(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
        """The whole-text token after the fusion layers: it summarises how the text and the photo agree."""
        device = self.photo_in.weight.device
        regions = prepared["regions"][photo_rows].to(device).float()
        colour = prepared["colour"][photo_rows].to(device).float()
        photo = prepared["photo"][photo_rows].to(device).float()
        memory = self.photo_in(regions) + self.colour_in(colour)
        memory = torch.cat([memory, self.photo_global(photo)[:, None]], 1) + self.region_pos
        tokens = self.text_in(prepared["tokens"][text_rows].to(device).float())
        whole_text = self.text_global(prepared["text"][text_rows].to(device))[:, None]
        tokens = torch.cat([whole_text, tokens], 1)
        mask = torch.cat([torch.ones_like(prepared["mask"][text_rows][:, :1]), prepared["mask"][text_rows]], 1).to(device)
        return self.fusion(self.text_norm(tokens), self.photo_norm(memory), tgt_key_padding_mask=~mask)[:, 0]
