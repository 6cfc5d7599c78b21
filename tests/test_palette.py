"""The colour histograms the attribute heads read: the product's pixels only, coarse and fine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from mmaudit import features
from mmaudit.features import colour_stats, palettes
from mmaudit.images import channel_extremes

COARSE = 18 * 3 + 3 + 6  # hues x brightness, saturation, greys
FINE_GREYS = 8


def shot(background, product=None):
    image = Image.new("RGB", (120, 160), background)
    if product is not None:
        image.paste(Image.new("RGB", (50, 60), product), (35, 50))
    return image


def test_the_light_background_is_left_out():
    """A red product on a white background: the histograms hold the red and nothing of the white."""
    values = palettes([shot((255, 255, 255), (200, 20, 30))])[0].astype(np.float32)
    coarse, fine = values[:COARSE], values[COARSE:]
    assert len(fine) == 24 * 3 * 4 + FINE_GREYS
    assert coarse[-6:].sum() == 0 and fine[-FINE_GREYS:].sum() == 0  # no grey pixels counted
    assert np.isclose((coarse ** 2).sum(), 1.0, atol=1e-2) and np.isclose((fine ** 2).sum(), 1.0, atol=1e-2)


def test_the_fine_histogram_tells_cream_from_white():
    """Cream is a pale tint: grey to the coarse histogram, a colour to the fine one."""
    cream, white = palettes([shot(c) for c in ((235, 228, 205), (250, 250, 250))]).astype(np.float32)
    assert cream[COARSE - 6:COARSE].sum() > 0 and cream[:COARSE - 6].sum() == 0  # coarse: only greys, like white
    assert white[:COARSE - 6].sum() == 0
    assert cream[COARSE:-FINE_GREYS].sum() > 0 and white[COARSE:-FINE_GREYS].sum() == 0


def test_colour_statistics_are_each_cells_own():
    """Each cell of the tower's region grid gets its own pixels' mean and spread per channel, cells in row order; a
    leading token (a transformer's [CLS]) the whole photo's."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)
    stats = colour_stats(Image.fromarray(pixels), 50).astype(np.float32)
    cells = pixels.astype(np.float32).reshape(7, 8, 7, 8, 3) / 255
    for row, col in ((0, 0), (0, 6), (3, 2), (6, 6)):
        cell = cells[row, :, col].reshape(64, 3)
        np.testing.assert_allclose(stats[1 + row * 7 + col], np.concatenate([cell.mean(0), cell.std(0)]), atol=1e-3)
    whole = pixels.reshape(-1, 3) / 255
    np.testing.assert_allclose(stats[0], np.concatenate([whole.mean(0), whole.std(0)]), atol=1e-3)


def test_a_flat_photos_colour_spread_is_zero_at_every_level():
    """A photo of one colour: every cell's mean is that colour and its spread 0 (not NaN: a variance computed from the
    sums of squares can round below 0), whatever the 8-bit level; a grid with no leading token too."""
    for level in range(256):
        stats = colour_stats(Image.new("RGB", (56, 56), (level, 255 - level, level // 2)), 49).astype(np.float32)
        np.testing.assert_allclose(stats[:, :3], np.tile(np.array([level, 255 - level, level // 2]) / 255, (49, 1)), atol=1e-3)
        assert (stats[:, 3:] == 0).all(), level


def test_channel_extremes_are_each_pixels_largest_and_smallest_channel():
    pixels = np.random.default_rng(1).random((5, 7, 3), dtype=np.float32)
    brightest, darkest = channel_extremes(pixels)
    np.testing.assert_array_equal(brightest, pixels.max(2))
    np.testing.assert_array_equal(darkest, pixels.min(2))


def test_the_histograms_count_as_numpys_histograms_do_at_every_8_bit_level(monkeypatch):
    """The palette's histograms count bin indices (np.bincount); numpy's histogram2d and histogramdd (the way before,
    kept in bench/photo_steps.py) give the same counts for every hue, saturation and value a photo's 8-bit HSV can hold,
    edges and 1.0 included (the counts compared, not their float16 square roots)."""
    spec = importlib.util.spec_from_file_location("photo_steps", Path(__file__).resolve().parents[1] / "bench" / "photo_steps.py")
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    monkeypatch.setattr(features, "normalized", lambda counts: np.asarray(counts, dtype=np.float64))
    levels = np.arange(256, dtype=np.float32) / 255.0
    h, s, v = (grid.ravel() for grid in np.meshgrid(levels[::3], levels, levels[::5], indexing="ij"))
    one = np.zeros(len(h), np.int64)  # every pixel of one photo
    np.testing.assert_array_equal(features.coarse_histogram(h, s, v, one, 1)[0], before.coarse_by_histogram2d(h, s, v))
    np.testing.assert_array_equal(features.fine_histogram(h, s, v, one, 1)[0], before.fine_by_histogramdd(h, s, v))
    for bins in (6, 8):  # the greys' bins at every level, 1.0 in the last
        np.testing.assert_array_equal(features.counts_in(features.unit_bins(levels, bins), bins, one[:len(levels)], 1)[0],
                                      np.histogram(levels, bins=bins, range=(0, 1))[0])


def test_photos_counted_together_get_each_their_own_histograms():
    """Photos counted at once (a batch) get the palettes each gets alone: a red product, a white photo (no light
    background: every pixel counts), a blue product and a photo with no pixels of some bins."""
    photos = [shot((255, 255, 255), (200, 20, 30)), shot((250, 250, 250)), shot((255, 255, 255), (20, 40, 190)),
              Image.fromarray(np.random.default_rng(2).integers(0, 256, (90, 70, 3), dtype=np.uint8))]
    together = palettes(photos)
    assert together.shape == (4, COARSE + 24 * 3 * 4 + FINE_GREYS)
    for k, photo in enumerate(photos):
        np.testing.assert_array_equal(together[k], palettes([photo])[0])
    assert not np.array_equal(together[0], together[2])
    assert palettes([]).shape == (0, together.shape[1])
