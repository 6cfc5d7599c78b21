"""A blank or near-uniform photo (a placeholder, a failed render)."""

import numpy as np
import pandas as pd

from . import register

BLANK_STD = 4.0  # pixel standard deviation (0-255) below which a 64x64 view shows nothing


@register("blank_photo")
def blank_photo(catalog: pd.DataFrame, config: object) -> tuple[np.ndarray, np.ndarray]:
    std = catalog["pixel_std"].to_numpy(dtype=np.float64)
    score = np.clip(1.0 - std / (4 * BLANK_STD), 0.0, 1.0)
    return score, np.nan_to_num(std, nan=np.inf) < BLANK_STD
