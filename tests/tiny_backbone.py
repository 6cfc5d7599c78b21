"""A tiny deterministic backbone for tests, registered through the real registry.

Photo: a 4x4 grid of mean colours through a fixed random layer (16 region tokens).
Text: each word gets a fixed random vector from its hash (up to 12 tokens).
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
from PIL import Image

from mmaudit.backbones import PhotoFeatures, TextFeatures, register_adapter, register_config

CONFIG = {"name": "tiny-test", "adapter": "tests.tiny_backbone:TinyBackbone", "description": "tiny random towers for tests", "max_text_tokens": 12}
DIM = 16


def _l2(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)).astype(np.float32)


class TinyBackbone:
    loads = 0
    image_size = 4  # its photo tower reads 4 x 4 pixels

    def __init__(self, config: dict):
        TinyBackbone.loads += 1
        self.name, self.config = config["name"], config
        self.weights = np.random.default_rng(0).normal(size=(3, DIM)).astype(np.float32)

    def encode_photos(self, images: list[Image.Image]) -> PhotoFeatures:
        grids = np.stack([np.asarray(im.convert("RGB").resize((4, 4), Image.Resampling.BOX), dtype=np.float32) / 255 for im in images])
        regions = (grids.reshape(len(images), 16, 3) - 0.6) @ self.weights
        return PhotoFeatures(_l2(regions.mean(1)), regions.astype(np.float16))

    def encode_texts(self, texts: list[str]) -> TextFeatures:
        limit = self.config["max_text_tokens"]
        tokens = np.zeros((len(texts), limit, DIM), dtype=np.float32)
        mask = np.zeros((len(texts), limit), dtype=bool)
        for i, text in enumerate(texts):
            for t, word in enumerate(text.lower().replace(".", " ").split()[:limit]):
                seed = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                tokens[i, t] = np.random.default_rng(seed).normal(size=DIM)
                mask[i, t] = True
        pooled = (tokens * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return TextFeatures(_l2(pooled), tokens.astype(np.float16), mask)


def register() -> None:
    register_adapter(CONFIG["adapter"], TinyBackbone)
    register_config(CONFIG)


class SlowTinyBackbone(TinyBackbone):
    """The tiny towers, with the same features, that append `pid` to config["log"] after each call on photos (two a
    batch of photos: one per view) and then wait config["delay"] seconds: a test can kill the process computing them (a Ray actor) at a known point."""

    def encode_photos(self, images: list[Image.Image]) -> PhotoFeatures:
        out = super().encode_photos(images)
        with open(self.config["log"], "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(float(self.config["delay"]))
        return out
