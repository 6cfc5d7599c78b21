"""The real offline towers from PyPI packages: shapes, dtypes, repeatability, and no network."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from PIL import Image

from mmaudit.backbones import load
from mmaudit.errors import ModelError


@pytest.mark.slow
def test_offline_towers_load_without_network(monkeypatch):
    pytest.importorskip("efficientnet_lite_pytorch", reason="the offline photo tower package is not installed")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    images = [Image.new("RGB", (300, 200), c) for c in ("red", "navy")]
    texts = ["Red cotton t-shirt", "Navy blue formal trousers for men"]
    first, second = load("offline-lite0-minilm"), load("offline-lite0-minilm")
    p1, p2 = first.encode_photos(images), second.encode_photos(images)
    t1, t2 = first.encode_texts(texts), second.encode_texts(texts)
    assert p1.pooled.shape == (2, 1280) and p1.pooled.dtype == np.float32
    assert p1.regions.shape == (2, 49, 1280) and p1.regions.dtype == np.float16
    assert t1.pooled.shape == (2, 384) and t1.tokens.shape == (2, 64, 384) and t1.mask.dtype == bool
    np.testing.assert_allclose(np.linalg.norm(p1.pooled, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(p1.pooled, p2.pooled)
    np.testing.assert_array_equal(t1.pooled, t2.pooled)
    assert float(t1.pooled[0] @ t1.pooled[1]) < 0.9  # different texts, different vectors


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown backbone"):
        load("no-such-backbone")
