"""`mmaudit score CATALOG` as the design card writes it: a user's own catalog file, no model named."""

from __future__ import annotations

import pytest

import pandas as pd

from .conftest import TINY, invoke

pytestmark = pytest.mark.slow  # runs the pipeline


def test_score_of_a_users_catalog_trains_its_own_model_once_and_reuses_it(demo_catalog, tmp_path):
    out = tmp_path / "scores.parquet"
    invoke("score", demo_catalog, "-o", out, *TINY)
    model = tmp_path / f"{demo_catalog.stem}-work" / "model"
    trained_at = (model / "model.safetensors").stat().st_mtime_ns
    first = pd.read_parquet(out)
    assert len(first) == len(pd.read_csv(demo_catalog)) and first.status.notna().all()  # every input row, with its status
    invoke("score", demo_catalog, "-o", out, *TINY)
    assert (model / "model.safetensors").stat().st_mtime_ns == trained_at  # reused, not trained again
    pd.testing.assert_series_equal(pd.read_parquet(out).mismatch_score, first.mismatch_score)


def test_score_of_an_ingested_catalog_uses_its_work_folders_model(pipeline, tmp_path):
    out = tmp_path / "again.parquet"
    invoke("score", pipeline["catalog"], "-o", out)  # no -m: pipeline's work folder holds model/
    before = pd.read_parquet(pipeline["scores"]).set_index("product_id").mismatch_score
    pd.testing.assert_series_equal(pd.read_parquet(out).set_index("product_id").mismatch_score, before)


def test_the_default_output_lies_beside_the_catalog(demo_catalog):
    from mmaudit.own_model import default_output

    assert default_output(demo_catalog) == demo_catalog.with_name(f"{demo_catalog.stem}.scores.parquet")
