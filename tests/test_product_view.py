"""The product view: the product cut out of its light background, for the attribute heads' second reading."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mmaudit.images import as_rgb, product_view


def shot(size, box, background=(255, 255, 255), colour=(120, 60, 20)):
    image = Image.new("RGB", size, background)
    ImageDraw.Draw(image).rectangle(box, fill=colour)
    return image


def test_a_small_product_fills_the_view():
    """A shoe-like strip in a tall photo: the view is square, the strip spans it less the margin, centred."""
    view = np.asarray(product_view(shot((600, 800), (150, 380, 449, 459))), dtype=np.float32)
    assert view.shape[0] == view.shape[1]
    product = (np.abs(view - 255).max(2) > 40)
    cols, rows = np.flatnonzero(product.any(0)), np.flatnonzero(product.any(1))
    assert (cols[-1] - cols[0] + 1) / view.shape[1] > 0.85  # against 0.5 of the whole photo's width
    assert abs((rows[0] + rows[-1]) / 2 - view.shape[0] / 2) < 0.05 * view.shape[0]


def test_a_product_at_the_edge_is_padded_with_white():
    """The square reaches past the photo's edge: the part outside is white, not black."""
    view = np.asarray(product_view(shot((400, 300), (0, 100, 120, 280))), dtype=np.float32)
    assert view.shape[0] == view.shape[1]
    assert view[:, :5].min() > 250  # the left margin lies outside the photo
    assert (np.abs(view - (120, 60, 20)).max(2) < 10).mean() > 0.4


def test_a_photo_not_shot_on_a_light_background_stays_whole():
    image = shot((300, 400), (100, 100, 200, 200), background=(30, 90, 40))
    assert product_view(image) is image


def test_a_photo_already_in_rgb_is_used_as_it_is_and_another_mode_converted():
    """`as_rgb` spares the copy Pillow's convert makes of a photo already in RGB (every step that reads a photo's pixels
    goes through it); a grey or palette photo is converted as before."""
    photo = Image.new("RGB", (30, 20), (200, 10, 40))
    assert as_rgb(photo) is photo
    for mode in ("L", "P", "CMYK"):
        other = photo.convert(mode)
        assert as_rgb(other).mode == "RGB"
        np.testing.assert_array_equal(np.asarray(as_rgb(other)), np.asarray(other.convert("RGB")))
