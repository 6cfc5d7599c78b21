"""The colour histograms the attribute heads read: the product's pixels only, coarse and fine."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mmaudit.features import palette

COARSE = 18 * 3 + 3 + 6  # hues x brightness, saturation, greys
FINE_GREYS = 8


def shot(background, product=None):
    image = Image.new("RGB", (120, 160), background)
    if product is not None:
        image.paste(Image.new("RGB", (50, 60), product), (35, 50))
    return image


def test_the_light_background_is_left_out():
    """A red product on a white background: the histograms hold the red and nothing of the white."""
    values = palette(shot((255, 255, 255), (200, 20, 30))).astype(np.float32)
    coarse, fine = values[:COARSE], values[COARSE:]
    assert len(fine) == 24 * 3 * 4 + FINE_GREYS
    assert coarse[-6:].sum() == 0 and fine[-FINE_GREYS:].sum() == 0  # no grey pixels counted
    assert np.isclose((coarse ** 2).sum(), 1.0, atol=1e-2) and np.isclose((fine ** 2).sum(), 1.0, atol=1e-2)


def test_the_fine_histogram_tells_cream_from_white():
    """Cream is a pale tint: grey to the coarse histogram, a colour to the fine one."""
    cream, white = (palette(shot(c)).astype(np.float32) for c in ((235, 228, 205), (250, 250, 250)))
    assert cream[COARSE - 6:COARSE].sum() > 0 and cream[:COARSE - 6].sum() == 0  # coarse: only greys, like white
    assert white[:COARSE - 6].sum() == 0
    assert cream[COARSE:-FINE_GREYS].sum() > 0 and white[COARSE:-FINE_GREYS].sum() == 0
