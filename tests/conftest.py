from __future__ import annotations

from pathlib import Path

import pytest

from mmaudit.demo import make_catalog

from .tiny_backbone import register

SHARED = Path(__file__).resolve().parents[2] / "shared"
register()


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory) -> Path:
    """A 96-product drawn catalog (coloured shapes, 4 exchanges), written once per test session."""
    return make_catalog(tmp_path_factory.mktemp("demo"), products=96, swaps=4, seed=1)


TINY = ["--set", "negatives.backbone=tiny-test"]
FAST_TRAIN = ["--set", "train.epochs=8", "--set", "train.dim=32", "--set", "train.batch_size=32", "--set", "train.layers=1"]
