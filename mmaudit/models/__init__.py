"""Pair scorers behind one interface: given text rows and photo rows of a feature bundle, a mismatch logit.

- `zeroshot` (default): no training; photo-text cosine where the backbone has a shared space, else does the
  text agree with the texts of products whose photos look alike.
- `fusion`: text tokens attend to photo region tokens (cross-attention layers).
- `dual`: a head on the pooled photo and text vectors only (late fusion baseline).
- `itm`: a hub fusion backbone's own matching head (BLIP ITM, ViLT), fine-tuned.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from .dual import DualModel
from .fusion import FusionModel
from .itm import HubMatchingModel
from .zeroshot import ZeroShotModel

REGISTRY = {"fusion": FusionModel, "dual": DualModel, "zeroshot": ZeroShotModel, "itm": HubMatchingModel}


class PairScorer(Protocol):
    trainable: bool
    reads_tokens: bool  # the features it needs include region tokens and text token states, not only vectors
    learns_words: bool  # it also learns the words of the photo's own text (`feats["words"]`, `dims["words"]`)

    def setup(self, feats: dict[str, np.ndarray], rows: np.ndarray) -> None: ...

    def prepare(self, feats: dict[str, np.ndarray]) -> dict: ...

    def pair_logits(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor: ...


class TrainedPairScorer(PairScorer, Protocol):
    def loss(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...


def build(name: str, settings: dict, dims: dict[str, int]) -> PairScorer:
    from ..errors import ModelError

    if name not in REGISTRY:
        raise ModelError(f"unknown model {name!r}; choose one of {sorted(REGISTRY)}")
    return REGISTRY[name](settings, dims)


def reads_tokens(name: str) -> bool:
    """Whether the model `name` reads region tokens and text token states (so they must be cached for it)."""
    return name in REGISTRY and REGISTRY[name].reads_tokens


def learns_words(name: str) -> bool:
    """Whether the model `name` learns the words of the photo's own text beside the matching (so it needs them)."""
    return name in REGISTRY and REGISTRY[name].learns_words


def prepared_for(model: PairScorer, feats: dict[str, np.ndarray], other_fold: dict | None = None) -> dict:
    """What `model` prepares of `feats`. A model that trains nothing prepares the same for every fold (its photo
    neighbours, for `zeroshot`): another fold's `other_fold` is reused, not searched again."""
    return other_fold if other_fold is not None and not model.trainable else model.prepare(feats)
