"""Named backbones: one JSON config each (in `configs/`) plus an adapter that builds the towers.

A backbone turns photos and texts into features: a pooled photo vector, photo region tokens,
a pooled text vector and text token states with their mask.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
from PIL import Image

from ..allocator import keep_freed_buffers
from ..errors import ModelError


@dataclass
class PhotoFeatures:
    pooled: np.ndarray  # [B, P] float32, L2-normalised
    regions: np.ndarray  # [B, R, C] float16
    detail: np.ndarray | None = None  # [B, K] the product's pixels in earlier layers, for backbones that give them


@dataclass
class TextFeatures:
    pooled: np.ndarray  # [B, D] float32, L2-normalised
    tokens: np.ndarray  # [B, T, D] float16
    mask: np.ndarray  # [B, T] bool
    ids: np.ndarray | None = None  # [B, T] int32 token ids, for backbones whose own fusion head reads them


class Backbone(Protocol):
    name: str
    config: dict
    image_size: int  # the photo tower's input side, in pixels

    def encode_photos(self, images: list[Image.Image]) -> PhotoFeatures: ...

    def encode_texts(self, texts: list[str]) -> TextFeatures: ...


ADAPTERS: dict[str, Callable[[dict], Backbone]] = {}
EXTRA_CONFIGS: dict[str, dict] = {}  # registered at run time (tests, plugins)


def register_adapter(name: str, build: Callable[[dict], Backbone]) -> None:
    ADAPTERS[name] = build


def register_config(config: dict) -> None:
    EXTRA_CONFIGS[config["name"]] = config


def _packaged() -> dict[str, dict]:
    folder = resources.files(__package__) / "configs"
    found = {}
    for item in folder.iterdir():
        if item.name.endswith(".json"):
            config = json.loads(item.read_text(encoding="utf-8"))
            found[config["name"]] = config
    return found


def list_backbones() -> dict[str, dict]:
    return {**_packaged(), **EXTRA_CONFIGS}


def get_config(name: str) -> dict:
    """A backbone's config by registered name, or from a JSON file path."""
    known = list_backbones()
    if name in known:
        return known[name]
    path = Path(name)
    if path.suffix == ".json" and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    raise ModelError(f"unknown backbone {name!r}; choose one of {sorted(known)} (see `mmaudit backbones`) or give a JSON config file")


def load(name: str) -> Backbone:
    return build(get_config(name))


def build(config: dict) -> Backbone:
    """The towers a config describes. `adapter` is a registered name (offline, hub) or `package.module:Class`,
    which is imported: a plugin's towers then load in any process, Ray workers included."""
    adapter = config.get("adapter")
    if adapter not in ADAPTERS:
        if adapter == "offline":
            from . import offline  # noqa: F401  (registers; imports torch lazily)
        elif adapter == "hub":
            from . import hub  # noqa: F401
        elif isinstance(adapter, str) and ":" in adapter:
            module, _, attr = adapter.partition(":")
            try:
                register_adapter(adapter, getattr(importlib.import_module(module), attr))
            except (ImportError, AttributeError) as exc:
                raise ModelError(f"backbone {config['name']!r}: cannot import adapter {adapter!r} ({exc}); "
                                 "install the package that provides it") from exc
    if adapter not in ADAPTERS:
        raise ModelError(f"backbone {config['name']!r}: unknown adapter {adapter!r}; known: {sorted(ADAPTERS)} "
                         "or `package.module:Class`")
    keep_freed_buffers()  # the towers' batches: each call's large buffers reused, not mapped anew
    return ADAPTERS[adapter](config)
