"""A hub fusion encoder's own matching head (BLIP ITM, ViLT retrieval), fine-tuned on the catalog's pairs.

The photo side comes from the feature cache (BLIP's vision tokens, ViLT's patch embeddings), so the
fusion layers and the head are trained end to end while the photo encoder stays frozen; the text
is read from the cached token ids. Only for `hub` backbones.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import backbones
from ..errors import ModelError
from .losses import pair_loss


class HubMatchingModel(nn.Module):
    trainable = True
    learns_words = False
    reads_tokens = True  # region tokens and text token states (`feature_keys.GROUPS`)

    def __init__(self, settings: dict, dims: dict[str, int]):
        super().__init__()
        config = backbones.get_config(settings.get("backbone", ""))
        if config.get("adapter") != "hub":
            raise ModelError(f"model itm needs a hub backbone (BLIP ITM or ViLT); {config['name']!r} has none of its own: "
                             "use model fusion, dual or zeroshot")
        from ..backbones.hub import load_model

        hub, _ = load_model(config)
        self.architecture = config["architecture"]
        if self.architecture == "blip-itm":
            self.text_encoder, self.itm_head = hub.text_encoder, hub.itm_head
        else:
            self.vilt, self.rank_output = hub.vilt, hub.rank_output
            self.vilt.embeddings.patch_embeddings.requires_grad_(False)  # photos come in already embedded

    def setup(self, feats: dict[str, np.ndarray], rows: np.ndarray) -> None:
        if "ids" not in feats:
            raise ModelError("model itm needs text token ids in the feature cache: extract features with a hub backbone")

    @torch.no_grad()
    def prepare(self, feats: dict[str, np.ndarray]) -> dict:
        return {"regions": torch.from_numpy(feats["regions"]), "ids": torch.from_numpy(feats["ids"].astype(np.int64)),
                "mask": torch.from_numpy(feats["mask"].astype(np.int64))}

    def pair_logits(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
        device = next(self.parameters()).device
        regions = prepared["regions"][photo_rows].to(device).float()
        ids, mask = prepared["ids"][text_rows].to(device), prepared["mask"][text_rows].to(device)
        photo_mask = torch.ones(regions.shape[:2], dtype=torch.long, device=device)
        if self.architecture == "blip-itm":
            states = self.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=regions,
                                       encoder_attention_mask=photo_mask).last_hidden_state
            match = self.itm_head(states[:, 0])  # [no match, match]
            return match[:, 0] - match[:, 1]
        pooled = self.vilt(input_ids=ids, attention_mask=mask, image_embeds=regions, pixel_mask=photo_mask).pooler_output
        return -self.rank_output(pooled).squeeze(-1)

    def loss(self, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return pair_loss(self.pair_logits(prepared, text_rows, photo_rows), labels)
