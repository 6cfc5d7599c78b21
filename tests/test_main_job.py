"""The README's main job, as written there: draw the demo catalog and audit it with every default (the offline
towers, not the tests' tiny ones). It caught a fold smaller than the attribute heads' tower directions."""

from __future__ import annotations

import pandas as pd
import pytest

from mmaudit.metrics import average_precision

from .conftest import invoke


@pytest.mark.slow
def test_demo_audit_with_the_defaults(tmp_path):
    demo = tmp_path / "mmaudit-demo"
    invoke("demo", demo)
    out = invoke("audit", demo / "products.csv", "-o", demo / "work")
    assert out.strip().splitlines()[-1] == str(demo / "work" / "report" / "index.html")
    scores = pd.read_parquet(demo / "work" / "scores.parquet").merge(pd.read_csv(demo / "truth.csv", dtype=str), on="product_id")
    labels = scores.swapped.astype(int).to_numpy()
    assert average_precision(labels, scores.mismatch_score.to_numpy()) > 3 * labels.mean()  # 12 of 160 swapped
