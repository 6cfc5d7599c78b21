from __future__ import annotations

from pathlib import Path

import pytest

from mmaudit.demo import make_catalog

from .tiny_backbone import register

SHARED = Path(__file__).resolve().parents[2] / "shared"
register()


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory) -> Path:
    """A 192-product drawn catalog (coloured shapes, 6 exchanges), written once per test session."""
    return make_catalog(tmp_path_factory.mktemp("demo"), products=192, swaps=6, seed=1)


TRAINING_FIXTURES = {"pipeline", "titles_only", "reviewed_run", "hostile_report", "cluster", "guarded_catalog"}


def pytest_collection_modifyitems(items) -> None:
    """A test that needs a catalog trained on (a fixture that runs the pipeline) is slow: `pytest -m "not slow"` is the
    fast loop while changing code; CI runs everything."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


TINY = ["--set", "negatives.backbone=tiny-test"]
FAST_TRAIN = ["--set", "train.epochs=30", "--set", "train.dim=32", "--set", "train.batch_size=32", "--set", "train.layers=1", "--set", "train.lr=0.003",
              "--set", "train.patience=30"]


def invoke(*args: str) -> str:
    """Run an mmaudit command through Typer as a user's shell would; fail the test on a non-zero exit."""
    from typer.testing import CliRunner

    from mmaudit.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="session")
def pipeline(demo_catalog, tmp_path_factory) -> dict[str, Path]:
    """ingest -> make-negatives -> train -> score on the demo catalog with the tiny backbone, once per session."""
    work = tmp_path_factory.mktemp("work")
    paths = {"catalog": work / "catalog.parquet", "pairs": work / "pairs.parquet", "model": work / "model",
             "scores": work / "scores.parquet", "truth": demo_catalog.parent / "truth.csv"}
    invoke("ingest", demo_catalog, "-o", paths["catalog"])
    invoke("make-negatives", paths["catalog"], "-o", paths["pairs"], *TINY)
    invoke("train", paths["pairs"], "-o", paths["model"], *FAST_TRAIN)
    invoke("score", paths["catalog"], "-m", paths["model"], "-o", paths["scores"])
    return paths
