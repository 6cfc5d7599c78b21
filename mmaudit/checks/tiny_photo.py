"""A photo too small to show the product."""

import numpy as np
import pandas as pd

from . import register


@register("tiny_photo")
def tiny_photo(catalog: pd.DataFrame, config: object) -> tuple[np.ndarray, np.ndarray]:
    side = np.minimum(catalog["width"].to_numpy(dtype=np.float64), catalog["height"].to_numpy(dtype=np.float64))
    side[side <= 0] = np.nan
    score = np.clip(1.0 - side / (4 * config.tiny_side), 0.0, 1.0)
    return score, np.nan_to_num(side, nan=np.inf) < config.tiny_side
