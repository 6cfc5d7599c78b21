"""What the trained pair models learn from."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pair_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mismatch logits' log-loss (label 1: the photo is not the text's), the task every trained pair model learns."""
    return F.binary_cross_entropy_with_logits(logits, labels.float().to(logits.device))


def word_loss(logits: torch.Tensor, stated: torch.Tensor, words_per_text: float) -> torch.Tensor:
    """The Bernoulli log-loss of a vocabulary's words ([pairs, words] logits; `stated` 1 where the photo's own text
    states the word), summed over the words and divided by how many words a text states on average: a loss per stated
    word, on the scale of the matching's, whatever the vocabulary's size."""
    summed = F.binary_cross_entropy_with_logits(logits, stated.float().to(logits.device), reduction="none").sum(1)
    return summed.mean() / max(words_per_text, 1.0)
