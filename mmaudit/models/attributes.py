"""Attribute heads: the catalog's own columns (colour, article type, ...) as labels for what a photo shows.

One small classifier per attribute column predicts the column's value from the photo alone
(tower vector, colour per region, colour histogram). Trained per fold, each product's photo is
read by the classifier that never saw that product, so the catalog's own errors are not
memorized. The cost of a claim "text i says colour=red" against photo j is -log p(red | photo j):
it also names the attribute a photo contradicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

MIN_EXAMPLES = 3  # rarer values are pooled into one "other" class


def photo_inputs(feats: dict[str, np.ndarray]) -> np.ndarray:
    """What a classifier sees of a photo: tower vector, colour per region, colour histogram."""
    colour = feats["colour"].astype(np.float32)
    return np.concatenate([feats["photo"], colour.reshape(len(colour), -1), feats["palette"].astype(np.float32)], 1)


def encode_values(values: pd.Series, classes: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Class index per row (-1: empty or unknown); rare values share the last class, "other"."""
    values = values.astype(str).str.strip()
    if classes is None:
        counts = values[values != ""].value_counts()
        classes = sorted(counts[counts >= MIN_EXAMPLES].index) + ["other"]
    index = {c: i for i, c in enumerate(classes)}
    other = index["other"]
    codes = np.array([-1 if v == "" else index.get(v, other) for v in values], dtype=np.int64)
    return codes, classes


TOWER_COMPONENTS = 128  # the tower vector's principal directions a head reads (measured: bench-out notes in BENCHMARKS.md)


class AttributeHeads(nn.Module):
    """One shared photo trunk and one classifier head per attribute column, trained together.

    The first `tower` inputs (the photo tower's pooled vector) are reduced to their top principal
    directions on the training photos: 1,280 object-recognition dimensions otherwise drown the colour
    inputs (out of fold on the shared catalog: colour 66.5% -> 68.5% right, log-loss 1.28 -> 1.12)."""

    def __init__(self, inputs: int, classes: dict[str, int], hidden: int = 256, tower: int = 0):
        super().__init__()
        components = min(TOWER_COMPONENTS, tower)
        reduced = inputs - tower + components
        self.register_buffer("tower_mean", torch.zeros(tower))
        self.register_buffer("tower_basis", torch.zeros(components, tower))
        self.register_buffer("mean", torch.zeros(reduced))
        self.register_buffer("scale", torch.ones(reduced))
        self.trunk = nn.Sequential(nn.Linear(reduced, hidden), nn.GELU(), nn.Dropout(0.3))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in classes.items()})

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        tower = len(self.tower_mean)
        return torch.cat([(x[:, :tower] - self.tower_mean) @ self.tower_basis.T, x[:, tower:]], 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = self.trunk((self.reduce(x) - self.mean) / self.scale)
        return {name: torch.log_softmax(head(shared), -1) for name, head in self.heads.items()}

    def fit(self, x: np.ndarray, codes: dict[str, np.ndarray], epochs: int = 40, seed: int = 0) -> "AttributeHeads":
        if not self.heads:
            return self.eval()
        x_t = torch.from_numpy(x)
        y_t = {name: torch.from_numpy(c) for name, c in codes.items()}
        tower = len(self.tower_mean)
        if tower:
            self.tower_mean.copy_(x_t[:, :tower].mean(0))
            basis = torch.linalg.svd(x_t[:, :tower] - self.tower_mean, full_matrices=False).Vh[:len(self.tower_basis)]
            self.tower_basis.zero_()  # fewer photos than directions (a small catalog): the rest stay zero
            self.tower_basis[:len(basis)] = basis
        reduced = self.reduce(x_t)
        self.mean.copy_(reduced.mean(0))
        self.scale.copy_(reduced.std(0) + 1e-6)
        torch.manual_seed(seed)
        optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3, weight_decay=0.05)
        self.train()
        for _ in range(epochs):
            order = torch.randperm(len(x_t))
            for s in range(0, len(order), 512):
                idx = order[s:s + 512]
                loss = 0.0
                for name, log_p in self(x_t[idx]).items():
                    y = y_t[name][idx]
                    known = y >= 0  # an empty cell teaches nothing
                    if known.any():  # label smoothing keeps the costs finite
                        loss = loss + 0.9 * nn.functional.nll_loss(log_p[known], y[known]) - 0.1 * log_p[known].mean()
                if not torch.is_tensor(loss):
                    continue  # no label in this batch
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self.eval()

    @torch.no_grad()
    def log_probs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: v.numpy() for name, v in self(torch.from_numpy(x)).items()}


def claim_costs(log_probs: dict[str, np.ndarray], codes: dict[str, np.ndarray], text_rows: np.ndarray,
                photo_rows: np.ndarray) -> np.ndarray:
    """[pairs, attributes in the order of `codes`]: -log p(value stated by text row | photo row); 0 where the text
    states none."""
    out = np.zeros((len(text_rows), len(codes)), dtype=np.float64)
    for k, name in enumerate(codes):
        stated = codes[name][text_rows]
        known = stated >= 0
        out[known, k] = -log_probs[name][photo_rows[known], stated[known]]
    return out


def out_of_fold_log_probs(fold_heads: list[AttributeHeads], product_folds: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each product's photo read by the heads of the fold it was held out in (all folds averaged for a new product)."""
    out: dict[str, np.ndarray] = {}
    for f, heads in enumerate(fold_heads):
        chosen = np.flatnonzero((product_folds == f) | (product_folds < 0))
        if len(chosen) == 0 or not heads.heads:
            continue
        weight = np.where(product_folds[chosen] < 0, 1.0 / len(fold_heads), 1.0)[:, None]
        for name, values in heads.log_probs(x[chosen]).items():
            out.setdefault(name, np.zeros((len(x), values.shape[1]), dtype=np.float32))[chosen] += weight * values
    return out
