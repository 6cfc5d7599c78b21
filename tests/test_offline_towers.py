"""The real offline towers from PyPI packages: shapes, dtypes, repeatability, and no network."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmaudit.backbones import load
from mmaudit.backbones.offline import inference_form, load_photo_tower, photo_batch
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
    assert p1.detail.shape == (2, 40 + 80 + 112 + 192 + 320) and p1.detail.dtype == np.float16
    assert t1.pooled.shape == (2, 384) and t1.tokens.shape == (2, 64, 384) and t1.mask.dtype == bool
    np.testing.assert_allclose(np.linalg.norm(p1.pooled, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(p1.pooled, p2.pooled)
    np.testing.assert_array_equal(t1.pooled, t2.pooled)
    assert float(t1.pooled[0] @ t1.pooled[1]) < 0.9  # different texts, different vectors


@pytest.mark.slow
def test_detail_reads_the_product_not_the_background():
    """The earlier stages are pooled over the product's pixels: a shade of light background changes them less than
    it changes the plain mean of the tower's maps, while the product's colour still changes them clearly."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="the offline photo tower package is not installed")

    def shot(background, colour=(150, 20, 30)):
        image = Image.new("RGB", (224, 224), background)
        ImageDraw.Draw(image).rectangle((62, 40, 162, 184), fill=colour)
        return image

    out = load("offline-lite0-minilm").encode_photos([shot((255, 255, 255)), shot((236, 236, 236)), shot((255, 255, 255), (20, 30, 120))])
    change = lambda v, a, b: np.linalg.norm(v[a] - v[b]) / np.linalg.norm(v[a])  # noqa: E731
    detail, plain = out.detail.astype(np.float64), out.regions.astype(np.float64).mean(1)
    assert change(detail, 0, 1) < 0.7 * change(plain, 0, 1)  # measured: 0.13 against 0.24
    assert change(detail, 0, 2) > 2 * change(detail, 0, 1)  # measured: 0.42 against 0.13


@pytest.mark.slow
def test_the_forward_pass_that_keeps_stage_ends_is_the_towers_own():
    """`encode_photos` runs EfficientNet-Lite's blocks itself to keep the earlier stages; its maps must equal the package's."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="the offline photo tower package is not installed")
    import torch

    backbone = load("offline-lite0-minilm")
    images = [Image.new("RGB", (300, 200), c) for c in ("red", "navy")]
    with torch.inference_mode():
        x = photo_batch(images, backbone.image_size)
        expected = load_photo_tower(backbone.config).extract_features(x).flatten(2).transpose(1, 2)
    got = backbone.encode_photos(images).regions.astype(np.float32)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-2, rtol=1e-2)  # regions are stored as float16


@pytest.mark.slow
def test_the_inference_form_computes_the_packages_function_without_its_norms_and_pads():
    pytest.importorskip("efficientnet_lite_pytorch", reason="the offline photo tower package is not installed")
    import torch

    from mmaudit.backbones import get_config

    config = get_config("offline-lite0-minilm")
    package, fast = load_photo_tower(config), inference_form(load_photo_tower(config))
    assert not [m for m in fast.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    pads = [m.padding for m in fast.modules() if isinstance(m, torch.nn.ZeroPad2d)]
    assert pads and all(p[0] != p[1] or p[2] != p[3] for p in pads)  # only the strided convolutions' uneven ones left
    images = []
    for background, colour in (("white", "red"), ("lightgrey", "navy"), ("white", "black")):
        images.append(Image.new("RGB", (240, 320), background))
        ImageDraw.Draw(images[-1]).rectangle((50, 40, 190, 280), fill=colour)
    with torch.inference_mode():
        x = photo_batch(images, 224)
        expected, got = package.extract_features(x), fast.extract_features(x.clone())
    assert expected.abs().max() > 1  # the maps are not all zero
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_texts_padded_to_the_batchs_longest_read_as_padded_to_the_full_length():
    """The text tower runs on as many tokens as the batch's longest text; the features are those of every text padded
    to max_text_tokens, in the cache's fixed shape."""
    import torch

    backbone = load("offline-lite0-minilm")
    texts = ["Red shirt", "Navy blue slim fit formal trousers for men with a flat front and two side pockets"]
    enc = backbone.tokenizer(texts, padding="max_length", truncation=True, max_length=backbone.max_tokens, return_tensors="pt")
    with torch.inference_mode():
        full = backbone.text(**enc).last_hidden_state
    mask = enc["attention_mask"].bool()
    expected = torch.nn.functional.normalize((full * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
    for batch in (texts, texts[:1]):
        got = backbone.encode_texts(batch)
        assert got.tokens.shape == (len(batch), backbone.max_tokens, 384) and got.mask.shape == (len(batch), backbone.max_tokens)
        np.testing.assert_array_equal(got.mask, mask[:len(batch)].numpy())
        np.testing.assert_allclose(got.pooled, expected[:len(batch)].numpy(), atol=1e-5)
        real = mask[:len(batch)].numpy()
        np.testing.assert_allclose(got.tokens[real].astype(np.float32), full[:len(batch)][mask[:len(batch)]].numpy(), atol=2e-2)
        assert not got.tokens[:, real.sum(1).max():].any()  # beyond the batch's longest text: zeros, masked


@pytest.mark.slow
def test_the_bf16_towers_compute_in_bf16_and_agree_with_fp32():
    pytest.importorskip("efficientnet_lite_pytorch", reason="the offline photo tower package is not installed")
    images = []
    for background, colour in (("white", "red"), ("white", "navy"), ("lightgrey", "green"), ("white", "black")):
        images.append(Image.new("RGB", (200, 300), background))
        ImageDraw.Draw(images[-1]).ellipse((40, 60, 160, 260), fill=colour)
    texts = ["Red cotton t-shirt", "Navy blue formal trousers for men", "Black leather wallet"]
    fp32, bf16 = load("offline-lite0-minilm"), load("offline-lite0-minilm-bf16")
    for encode in ("encode_photos", "encode_texts"):
        items = images if encode == "encode_photos" else texts
        exact, fast = getattr(fp32, encode)(items), getattr(bf16, encode)(items)
        assert exact.pooled.dtype == fast.pooled.dtype == np.float32
        assert not np.array_equal(exact.pooled, fast.pooled), f"{encode}: bf16 gave fp32's numbers: not computed in bf16"
        assert (exact.pooled * fast.pooled).sum(1).min() > 0.99, encode  # unit vectors: their cosine


def test_an_unknown_precision_is_a_clear_error():
    from mmaudit.backbones import build, get_config

    with pytest.raises(ModelError, match="precision 'fp8': choose one of fp32, bf16"):
        build(get_config("offline-lite0-minilm") | {"precision": "fp8"})


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown backbone"):
        load("no-such-backbone")
