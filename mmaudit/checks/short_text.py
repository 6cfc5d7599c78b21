"""Text too short to say what the product is."""

import numpy as np
import pandas as pd

from . import register


@register("short_text")
def short_text(catalog: pd.DataFrame, config: object) -> tuple[np.ndarray, np.ndarray]:
    length = catalog["text"].str.strip().str.len().to_numpy(dtype=np.float64)
    score = np.clip(1.0 - length / config.min_text_chars, 0.0, 1.0)
    return score, length < config.min_text_chars
