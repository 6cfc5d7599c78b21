"""`--engine ray` on a real Ray cluster of a head and one worker node on 127.0.0.1 (as `ray start` makes them):
the outputs equal the local engine's, and a worker process killed mid-job costs only its unfinished batches."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmaudit.backbones import EXTRA_CONFIGS, register_config
from mmaudit.feature_keys import PHOTO_KIND, TOKENS, VECTORS
from mmaudit.features import FeatureStore
from mmaudit.schema import read_metadata

from .conftest import FAST_TRAIN, TINY, invoke
from .ray_cluster import auth_env, local_cluster
from .tiny_backbone import CONFIG

pytestmark = pytest.mark.slow  # runs the pipeline

auth_env()  # before Ray is imported
pytest.importorskip("ray", reason="Ray is not installed (pip install 'mmaudit[ray]'); the ray engine is untested here")


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, 1 CPU each, on 127.0.0.1."""
    with local_cluster(workers=1, cpus=1) as address:
        yield address


def _cached(root: Path) -> dict[str, np.ndarray]:
    store = FeatureStore(root, CONFIG)
    keys = sorted(store.index(PHOTO_KIND))
    return {"keys": np.array(keys)} | store.load(PHOTO_KIND, keys)


def _same_scores(path: Path, expected: Path) -> None:
    got, want = pd.read_parquet(path), pd.read_parquet(expected)
    assert list(got.product_id) == list(want.product_id) and list(got.status) == list(want.status)
    np.testing.assert_allclose(got.mismatch_score.to_numpy(float), want.mismatch_score.to_numpy(float), atol=1e-6)
    assert list(got.flagged) == list(want.flagged)
    assert list(got.photo_fits.fillna("")) == list(want.photo_fits.fillna(""))


def test_ray_engine_equals_local(pipeline, cluster, tmp_path):
    """Features and pairs from make-negatives, and scores, computed on the cluster equal the local engine's; the
    cluster computes only what the cache lacks, whichever engine wrote it (a rerun resumes)."""
    cache = tmp_path / "features"
    catalog = pd.read_parquet(pipeline["catalog"]).query("status == 'ok'").drop_duplicates("image_sha256")
    FeatureStore(cache, CONFIG).ensure_photos(dict(zip(catalog.image_sha256[:40], catalog.image_path[:40])))  # locally
    invoke("make-negatives", pipeline["catalog"], "-o", tmp_path / "pairs.parquet", "--cache-dir", cache,
           "--set", "negatives.backbone=tiny-test", "--engine", "ray", "--ray-address", cluster)
    assert read_metadata(tmp_path / "pairs.parquet")["settings"]["features_computed"][PHOTO_KIND] == len(catalog) - 40
    ray_features, local_features = _cached(cache), _cached(pipeline["catalog"].parent / "features")
    assert len(ray_features["keys"]) == len(local_features["keys"]) > 100
    for name, array in local_features.items():
        np.testing.assert_array_equal(ray_features[name], array, err_msg=name)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pairs.parquet"), pd.read_parquet(pipeline["pairs"]))

    invoke("score", pipeline["catalog"], "-m", pipeline["model"], "-o", tmp_path / "scores.parquet", "--cache-dir", cache,
           "--engine", "ray", "--ray-address", cluster)
    _same_scores(tmp_path / "scores.parquet", pipeline["scores"])


def test_killed_worker_costs_only_its_batches(pipeline, cluster, tmp_path):
    """SIGKILL the actor process computing photo features mid-job: Ray restarts it and retries its batch,
    the score finishes, and the output equals the local engine's."""
    log = tmp_path / "batches.log"
    log.touch()
    slow = {**CONFIG, "adapter": "tests.tiny_backbone:SlowTinyBackbone", "log": str(log), "delay": "0.4"}
    killed: list[int] = []

    def kill_after_two_batches() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = log.read_text().split()
            if len(pids) >= 2:
                killed.append(int(pids[-1]))
                os.kill(killed[0], signal.SIGKILL)
                return
            time.sleep(0.05)

    register_config(slow)  # the same towers and name as the model's backbone, slowed down
    try:
        killer = threading.Thread(target=kill_after_two_batches)
        killer.start()
        invoke("score", pipeline["catalog"], "-m", pipeline["model"], "-o", tmp_path / "scores.parquet",
               "--cache-dir", tmp_path / "features", "--engine", "ray", "--ray-address", cluster, "--set", "engine.cpus_per_actor=1")
        killer.join()
    finally:
        register_config(CONFIG)
    assert killed, "the job finished before a worker could be killed"
    batches = log.read_text().split()
    assert str(killed[0]) in batches and any(pid != str(killed[0]) for pid in batches[batches.index(str(killed[0])) + 1:]), \
        "no other worker process carried on after the kill"
    photos = pd.read_parquet(pipeline["catalog"]).query("status == 'ok'").image_sha256.nunique()
    photo_batches = len(batches) / 2  # two tower calls a batch of 8 photos, one per view
    assert photo_batches * 8 < photos + 3 * 8 * 2, "more than the killed worker's batches were recomputed"
    _same_scores(tmp_path / "scores.parquet", pipeline["scores"])
    assert EXTRA_CONFIGS["tiny-test"] is CONFIG


def test_audit_passes_the_engine_through(demo_catalog, cluster, tmp_path):
    """`audit --engine ray` runs its heavy stages on the cluster and records the engine in WORK/config.json."""
    out = tmp_path / "work"
    invoke("audit", demo_catalog, "-o", out, *TINY, *FAST_TRAIN, "--engine", "ray", "--ray-address", cluster)
    assert json.loads((out / "config.json").read_text())["engine"]["name"] == "ray"
    assert (out / "report" / "index.html").exists()
    assert pd.read_parquet(out / "scores.parquet").mismatch_score.notna().sum() > 100


def test_extractor_keeps_every_row_and_names_a_bad_photo(pipeline, tmp_path):
    """An actor's batch with a photo that cannot be read: every row comes back (zeros for it) with its problem."""
    from mmaudit.features import RayExtractor

    good = pd.read_parquet(pipeline["catalog"]).query("status == 'ok'").image_path.iloc[0]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    out = RayExtractor(CONFIG, PHOTO_KIND, (VECTORS, TOKENS), 1)({"key": np.array(["a", "b"]), "item": np.array([good, str(broken)])})
    assert list(out["key"]) == ["a", "b"] and out["error"][0] == "" and "broken.jpg" in out["error"][1]
    assert out["regions"].shape[0] == 2 and not out["regions"][1].any() and out["regions"][0].any()


def test_ray_missing_says_how_to_install(monkeypatch, pipeline, tmp_path):
    from typer.testing import CliRunner

    from mmaudit.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as where it is not installed
    result = CliRunner().invoke(app, ["score", str(pipeline["catalog"]), "-m", str(pipeline["model"]), "-o", str(tmp_path / "s.parquet"),
                                      "--cache-dir", str(tmp_path / "features"), "--engine", "ray"])
    assert result.exit_code == 1
    assert "pip install 'mmaudit[ray]'" in result.output
    assert not (tmp_path / "s.parquet").exists()
