"""Photo and text checks that need no model; each adds `<name>_score` and `is_<name>_issue`."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

CheckFn = Callable[[pd.DataFrame, object], tuple[np.ndarray, np.ndarray]]
REGISTRY: dict[str, CheckFn] = {}


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    def add(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = fn
        return fn
    return add


def run_all(catalog: pd.DataFrame, config: object) -> pd.DataFrame:
    """Run every registered check; rows whose photo or text was not read get score NaN and no issue."""
    out = catalog.copy()
    for name, check in REGISTRY.items():
        score, issue = check(catalog, config)
        out[f"{name}_score"] = np.asarray(score, dtype=np.float64)
        out[f"is_{name}_issue"] = np.asarray(issue, dtype=bool)
    return out


def issue_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c.startswith("is_") and c.endswith("_issue")]


from . import blank_photo, duplicate_photo, near_duplicate_photo, short_text, tiny_photo  # noqa: E402,F401  (registers)
