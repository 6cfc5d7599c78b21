"""Photos decoded at the size they are read at: a large JPEG at a libjpeg scale, other formats whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mmaudit import features, images
from mmaudit.backbones import load as load_backbone
from mmaudit.feature_keys import VECTORS
from mmaudit.features import photo_arrays
from mmaudit.images import decode, inspect, load_rgb


def gradient(width: int, height: int) -> Image.Image:
    """A smooth photo (a colour ramp each way), whose downscalings any sound filter agrees on."""
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    return Image.fromarray((np.stack([x, y, (x + y) / 2], 2) * 255).astype(np.uint8))


def test_a_large_jpeg_is_decoded_at_the_smallest_scale_that_keeps_its_sides_and_looks_the_same(tmp_path: Path):
    """1,000 x 700 read for sides of 224: decoded at half (500 x 350; a quarter would leave 175), its full size
    reported, and the same picture as the whole decode brought to that size."""
    gradient(1000, 700).save(tmp_path / "large.jpg", quality=95)
    image, full = decode(tmp_path / "large.jpg", least_side=224)
    assert image.size == (500, 350) and full == (1000, 700) and image.mode == "RGB"
    whole, _ = decode(tmp_path / "large.jpg")
    assert whole.size == (1000, 700)
    apart = np.abs(np.asarray(image, np.float32) - np.asarray(whole.resize((500, 350), Image.Resampling.BOX), np.float32))
    assert apart.mean() < 2 and apart.max() < 16
    assert decode(tmp_path / "large.jpg", least_side=1000)[0].size == (1000, 700)  # no scale keeps 1,000: whole


def test_a_turned_jpeg_is_decoded_upright_with_its_upright_size(tmp_path: Path):
    """EXIF orientation 6 (a quarter turn): the photo comes back upright, its width and height as shown."""
    photo = gradient(1000, 700)
    exif = photo.getexif()
    exif[0x0112] = 6
    photo.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    image, full = decode(tmp_path / "turned.jpg", least_side=224)
    assert image.size == (350, 500) and full == (700, 1000)


def test_formats_without_scaled_decoding_are_decoded_whole(tmp_path: Path):
    gradient(1000, 700).save(tmp_path / "large.png")
    image, full = decode(tmp_path / "large.png", least_side=224)
    assert image.size == full == (1000, 700)


def test_ingest_reads_a_large_photo_scaled_and_records_its_full_size(tmp_path: Path, monkeypatch):
    gradient(2400, 1800).save(tmp_path / "large.jpg", quality=90)
    decoded = []
    monkeypatch.setattr(images, "decode", lambda *args: decoded.append(decode(*args)) or decoded[-1])
    info = inspect(tmp_path / "large.jpg", 30_000_000, 50_000_000)
    assert decoded[0][0].size == (600, 450)  # a quarter: an eighth would leave 225, under INSPECTED_SIDE (256)
    assert (info.width, info.height) == (2400, 1800) and info.pixel_std > 10


def test_the_towers_photos_are_decoded_at_twice_the_towers_side(tmp_path: Path, monkeypatch):
    """Feature extraction decodes each photo at least twice the tower's input side (here a 4-pixel tower: 8)."""
    gradient(100, 64).save(tmp_path / "photo.jpg", quality=95)
    sides = []
    monkeypatch.setattr(features, "load_rgb", lambda path, least_side=0: sides.append(least_side) or load_rgb(path, least_side=least_side))
    good, arrays, failed = photo_arrays(load_backbone("tiny-test"), [str(tmp_path / "photo.jpg")], (VECTORS,))
    assert good == [0] and not failed and sides == [8] and arrays["pooled"].shape[0] == 1
    assert load_rgb(tmp_path / "photo.jpg", least_side=8).size == (13, 8)  # an eighth, rounded up
