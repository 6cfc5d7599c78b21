"""The same photo file (SHA-256) attached to different products."""

import numpy as np
import pandas as pd

from . import register


@register("duplicate_photo")
def duplicate_photo(catalog: pd.DataFrame, config: object) -> tuple[np.ndarray, np.ndarray]:
    sha = catalog["image_sha256"].where(catalog["image_sha256"] != "")
    shared = sha.map(sha.value_counts()).fillna(1).to_numpy() - 1
    score = np.where(sha.isna(), np.nan, shared)
    return score, np.nan_to_num(score) > 0
