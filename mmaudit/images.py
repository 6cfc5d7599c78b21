"""Safe photo decoding, hashing and thumbnails: size-limited before any pixel is decoded."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own bomb guard stays on; our per-call pixel limit is checked first, from the header.
Image.MAX_IMAGE_PIXELS = 200_000_000


class ImageProblem(Exception):
    """A photo that cannot be used; `status` is the catalog status it maps to."""

    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class PhotoInfo:
    width: int
    height: int
    sha256: str
    phash: str
    pixel_std: float


def light_background(brightest, darkest):
    """Where a pixel is light, unsaturated background (HSV value > 0.88, saturation < 0.12), from the largest and
    smallest of its R, G, B in [0, 1]; numpy arrays or torch tensors. Product photos are mostly shot on one."""
    return (brightest > 0.88) & (brightest - darkest < 0.12 * brightest)


def channel_extremes(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and the smallest of each pixel's R, G, B ([..., 3] array), taken channel against channel: numpy's
    max over a last axis of three is many times slower (bench/photo_steps.py)."""
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return np.maximum(np.maximum(red, green), blue), np.minimum(np.minimum(red, green), blue)


def product_view(image: Image.Image, margin: float = 0.06) -> Image.Image:
    """The product cut out of its light background: the box of rows and columns with product pixels in them, made
    square about its centre with a margin, padded with white. A tower fed a whole portrait photo squashed to a square
    sees a shoe or a watch in a few pixel rows; here the product fills the frame. A photo with almost no light
    background (not shot on one, or filled by its product) comes back whole."""
    small = image.convert("RGB")  # a copy: thumbnail works in place
    small.thumbnail((128, 128))
    pixels = np.asarray(small, dtype=np.float32) / 255.0
    product = ~light_background(*channel_extremes(pixels))
    rows, cols = np.flatnonzero(product.mean(1) > 0.02), np.flatnonzero(product.mean(0) > 0.02)
    if not 0.05 <= product.mean() <= 0.9 or len(rows) == 0 or len(cols) == 0:
        return image
    sx, sy = image.width / small.width, image.height / small.height
    left, right, top, bottom = cols[0] * sx, (cols[-1] + 1) * sx, rows[0] * sy, (rows[-1] + 1) * sy
    half = max(right - left, bottom - top) * (0.5 + margin)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    box = [int(round(v)) for v in (cx - half, cy - half, cx + half, cy + half)]
    out = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (255, 255, 255))
    inside = (max(box[0], 0), max(box[1], 0), min(box[2], image.width), min(box[3], image.height))
    out.paste(as_rgb(image.crop(inside)), (inside[0] - box[0], inside[1] - box[1]))  # the crop, not the photo, converted
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def as_rgb(image: Image.Image) -> Image.Image:
    """The photo in RGB: itself where it is (Pillow's convert to the same mode copies every pixel), else converted."""
    return image if image.mode == "RGB" else image.convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode (CMYK, palette, alpha, 16-bit, grey) to 8-bit RGB; transparency becomes white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = array.max() or 1.0
        image = Image.fromarray((array / top * 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return as_rgb(image)


def load_rgb(path: Path, max_bytes: int = 30_000_000, max_pixels: int = 50_000_000, least_side: int = 0) -> Image.Image:
    """Open a photo safely (`decode`), in RGB."""
    return decode(path, max_bytes, max_pixels, least_side)[0]


def decode(path: Path, max_bytes: int = 30_000_000, max_pixels: int = 50_000_000, least_side: int = 0) -> tuple[Image.Image, tuple[int, int]]:
    """Open a photo safely: file size and header dimensions are checked before decoding. The photo in RGB, upright (its
    EXIF orientation applied), and its full width and height. `least_side`: a JPEG is decoded at the smallest of
    libjpeg's scales (1/2, 1/4, 1/8) that keeps both sides at least this long, whole where none does; a 2,000-pixel
    photo read for a 224-pixel tower is decoded at 1/4, in a fraction of the time and memory (bench/large_photos.py)."""
    path = Path(path)
    if not path.is_file():
        raise ImageProblem("missing_image", f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ImageProblem("unreadable_image", f"{path}: empty file")
    if size > max_bytes:
        raise ImageProblem("image_too_large", f"{path}: {size} bytes, over the limit of {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageProblem("image_too_large", f"{path}: {width}x{height} pixels, over the limit of {max_pixels}")
                image.seek(0)  # first frame of an animation
                if least_side:
                    image.draft(None, (least_side, least_side))  # JPEG only; other formats decode whole
                image.load()
                decoded = image.size
                image = ImageOps.exif_transpose(image)
                turned = image.size != decoded  # a quarter turn: width and height exchanged
                return to_rgb(image), ((height, width) if turned else (width, height))
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem("image_too_large", f"{path}: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageProblem("unreadable_image", f"{path}: not a readable image ({exc})") from exc


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (pHash), as 16 hex digits."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    n = 32
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    dct = basis @ grey @ basis.T
    low = dct[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


INSPECTED_SIDE = 256  # the checks read a photo at 64 pixels at most (its spread; its hash at 32): decoded at least 4x that


def inspect(path: Path, max_bytes: int, max_pixels: int) -> PhotoInfo:
    """Decode one photo safely and record what the checks need."""
    image, (width, height) = decode(path, max_bytes, max_pixels, INSPECTED_SIDE)
    small = np.asarray(image.resize((64, 64)), dtype=np.float64)
    return PhotoInfo(width, height, file_sha256(path), perceptual_hash(image), float(small.std()))


def thumbnail(path: Path, out: Path, size: int) -> None:
    """Write a small JPEG thumbnail of a photo (decoded with the same guards, at least twice its size)."""
    image = load_rgb(path, least_side=2 * size)
    image.thumbnail((size, size))
    image.save(out, "JPEG", quality=85)
