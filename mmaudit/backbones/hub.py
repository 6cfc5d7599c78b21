"""Hub fusion encoders (BLIP image-text matching, ViLT retrieval) from a model id or a local directory.

Only for users who have such weights: nothing here runs on the default settings. The towers are
split so the slow part is cached like any backbone's features:

- `blip-itm`: regions = the vision transformer's output tokens (the memory BLIP's text encoder
  cross-attends to); pooled photo / text = BLIP's own contrastive (ITC) projections, one shared space.
- `vilt`: regions = the patch embeddings with their positions (ViLT's image input, before the
  single-stream transformer); pooled vectors = the transformer's output averaged over each
  modality's tokens when it sees that modality alone.

Text token ids are cached too, so the model's own matching head (`itm` model) can be fine-tuned and
run on cached regions without decoding a photo again.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from ..devices import pick_device
from ..errors import ModelError
from ..images import as_rgb
from . import PhotoFeatures, TextFeatures, register_adapter

ARCHITECTURES = ("blip-itm", "vilt")
DEFAULT_NORMALISATION = {  # what each family was trained with (their processors' defaults)
    "blip-itm": ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]),
    "vilt": ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
}


def load_model(config: dict):
    """The transformers model and tokenizer a hub backbone config names (id or local directory)."""
    architecture = config.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ModelError(f"backbone {config['name']!r}: architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")
    from transformers import AutoTokenizer, BlipForImageTextRetrieval, ViltForImageAndTextRetrieval
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = config["model"]
    cls = BlipForImageTextRetrieval if architecture == "blip-itm" else ViltForImageAndTextRetrieval
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")  # read now, not at import
    try:
        model = cls.from_pretrained(source, local_files_only=offline).eval()
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError) as exc:
        raise ModelError(f"backbone {config['name']!r}: cannot load {architecture} from {source!r} ({str(exc).splitlines()[0]}); "
                         "give a local directory holding the model and its tokenizer, or a hub id on a machine that can reach the hub") from exc
    return model, tokenizer


def text_limit(config: dict, model) -> int:
    """The token budget: the config's, never past the model's position table."""
    positions = (model.config.text_config if hasattr(model.config, "text_config") else model.config).max_position_embeddings
    return min(int(config.get("max_text_tokens", 40)), int(positions))


def vilt_patch_embeddings(vilt, pixel_values: torch.Tensor) -> torch.Tensor:
    """ViLT's image input for a full square photo at the model's size: [CLS] + every patch, with positions.
    (ViLT's own `visual_embed` samples patches in random order; for a full photo it keeps them all, so
    this is the same set, in a fixed order, and the transformer's output does not depend on the order.)"""
    embeddings = vilt.embeddings
    patches = embeddings.patch_embeddings(pixel_values).flatten(2).transpose(1, 2)
    cls = embeddings.cls_token.expand(len(patches), -1, -1)
    return torch.cat([cls, patches], 1) + embeddings.position_embeddings


def l2(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(states.dtype)[..., None]
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1)


class HubBackbone:
    def __init__(self, config: dict):
        self.name, self.config = config["name"], config
        self.architecture = config.get("architecture")
        self.device = pick_device(config.get("device", ""))  # a GPU when one is visible (a Ray actor given one)
        self.model, self.tokenizer = load_model(config)
        self.model.to(self.device)
        self.max_tokens = text_limit(config, self.model)
        model_config = self.model.config.vision_config if self.architecture == "blip-itm" else self.model.config
        self.image_size = int(model_config.image_size)  # ViLT's position table is fixed to it
        mean, std = DEFAULT_NORMALISATION[self.architecture]
        self.mean = torch.tensor(config.get("image_mean", mean)).view(1, 3, 1, 1)
        self.std = torch.tensor(config.get("image_std", std)).view(1, 3, 1, 1)

    def pixels(self, images: list[Image.Image]) -> torch.Tensor:
        size = (self.image_size, self.image_size)
        arrays = [np.asarray(as_rgb(im).resize(size, Image.Resampling.BICUBIC), dtype=np.float32) for im in images]
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0
        return ((x - self.mean) / self.std).to(self.device)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_tokens, return_tensors="pt").to(self.device)

    @torch.inference_mode()
    def encode_photos(self, images: list[Image.Image]) -> PhotoFeatures:
        pixels = self.pixels(images)
        if self.architecture == "blip-itm":
            regions = self.model.vision_model(pixel_values=pixels).last_hidden_state
            pooled = self.model.vision_proj(regions[:, 0])
        else:
            vilt = self.model.vilt
            regions = vilt_patch_embeddings(vilt, pixels)
            empty = self.tokenizer([""] * len(images), return_tensors="pt").to(self.device)
            states = vilt(input_ids=empty["input_ids"], attention_mask=empty["attention_mask"], image_embeds=regions,
                          pixel_mask=torch.ones(regions.shape[:2], dtype=torch.long, device=self.device)).last_hidden_state
            pooled = states[:, empty["input_ids"].shape[1]:].mean(1)
        return PhotoFeatures(l2(pooled).cpu().numpy(), regions.half().cpu().numpy())

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> TextFeatures:
        enc = self.tokenize(texts)
        mask = enc["attention_mask"].bool()
        if self.architecture == "blip-itm":
            states = self.model.text_encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            pooled = self.model.text_proj(states[:, 0])
        else:
            hidden = self.model.config.hidden_size
            states = self.model.vilt(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                     image_embeds=torch.zeros(len(texts), 0, hidden, device=self.device),
                                     pixel_mask=torch.zeros(len(texts), 0, dtype=torch.long, device=self.device)).last_hidden_state
            pooled = masked_mean(states, mask)
        return TextFeatures(l2(pooled).cpu().numpy(), states.half().cpu().numpy(), mask.cpu().numpy(),
                            enc["input_ids"].cpu().numpy().astype(np.int32))


register_adapter("hub", HubBackbone)
