"""SIGKILL each long stage at several points, rerun the same command: it finishes, the output equals an
uninterrupted run's, at most one unit of work (a feature shard, a fold, a scoring chunk) is redone,
and no half-written file is left under a final name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from .conftest import FAST_TRAIN, TINY
from .killable import CHUNK, SHARD

pytestmark = pytest.mark.slow  # runs the pipeline

ROOT = Path(__file__).resolve().parents[1]


def command(*args) -> list[str]:
    return [sys.executable, "-m", "tests.killable", *map(str, args)]


HANG = 900  # seconds without reaching the kill point after which the command counts as hung


def run_until(args: list, log: Path, kind: str, count: int, slow: float) -> None:
    """Start the command; SIGKILL it once `count` units of `kind` have been computed."""
    env = {**os.environ, "MMAUDIT_TEST_LOG": str(log), "MMAUDIT_TEST_SLOW": str(slow)}
    process = subprocess.Popen(command(*args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + HANG  # a guard against a hang, not a time limit: a fold took over 120 s on 2 busy cores
    while units(log, kind) < count:
        assert process.poll() is None, f"finished before the kill point: {process.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def run_to_end(args: list, log: Path) -> None:
    env = {**os.environ, "MMAUDIT_TEST_LOG": str(log), "MMAUDIT_TEST_SLOW": "0"}
    result = subprocess.run(command(*args), cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def units(log: Path, kind: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.startswith(kind)) if log.exists() else 0


def no_partial_files(folder: Path) -> None:
    """Interrupted writes leave only hidden temporaries, never a damaged file under a final name."""
    for path in folder.rglob("*.parquet"):
        if not path.name.startswith("."):
            pd.read_parquet(path)
    for path in folder.rglob("*.npz"):
        with np.load(path) as data:
            assert len(data["keys"])


@pytest.mark.parametrize("kill_after", [1, 5])
def test_feature_extraction_killed_resumes(pipeline, tmp_path, kill_after):
    out, log, cache = tmp_path / "pairs.parquet", tmp_path / "log", tmp_path / "features"
    args = ["make-negatives", pipeline["catalog"], "-o", out, "--cache-dir", cache, *TINY]
    run_until(args, log, "photos", kill_after, slow=0.5)
    assert not out.exists()
    no_partial_files(cache)
    run_to_end(args, log)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(pipeline["pairs"]))
    photos = pd.read_parquet(pipeline["catalog"]).image_sha256.nunique()
    encoded = sum(int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("photos"))
    assert photos <= encoded <= photos + SHARD  # at most the shard in progress was redone


@pytest.mark.parametrize("kill_after", [1, 2])
def test_training_killed_resumes(pipeline, tmp_path, kill_after):
    out, log, uninterrupted = tmp_path / "model", tmp_path / "log", tmp_path / "reference"
    args = ["train", pipeline["pairs"], "-o", out, "--model", "fusion", *FAST_TRAIN]
    run_to_end(["train", pipeline["pairs"], "-o", uninterrupted, "--model", "fusion", *FAST_TRAIN], tmp_path / "reference.log")
    run_until(args, log, "fold", kill_after, slow=1.5)
    assert not out.exists()
    run_to_end(args, log)
    folds = 3
    assert folds <= units(log, "fold") <= folds + 1
    resumed, reference = load_file(str(out / "model.safetensors")), load_file(str(uninterrupted / "model.safetensors"))
    assert resumed.keys() == reference.keys()
    for key in reference:
        np.testing.assert_allclose(resumed[key], reference[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert not list(tmp_path.glob(".model.parts-*"))  # checkpoints removed once the model is saved


@pytest.mark.parametrize("kill_after", [2, 5])
def test_scoring_killed_resumes(pipeline, tmp_path, kill_after):
    out, log = tmp_path / "scores.parquet", tmp_path / "log"
    args = ["score", pipeline["catalog"], "-m", pipeline["model"], "-o", out]
    run_until(args, log, "chunk", kill_after, slow=1.0)
    assert not out.exists()
    no_partial_files(tmp_path)
    run_to_end(args, log)
    chunks = -(-len(pd.read_parquet(pipeline["catalog"])) // CHUNK)
    assert chunks <= units(log, "chunk") <= chunks + 1
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(pipeline["scores"]), check_exact=False, rtol=1e-4)


def test_audit_killed_in_training_then_in_scoring_resumes(pipeline, demo_catalog, tmp_path):
    work, log = tmp_path / "work", tmp_path / "log"
    args = ["audit", demo_catalog, "-o", work, *TINY, *FAST_TRAIN]
    run_until(args, log, "fold", 2, slow=1.5)
    run_until(args, log, "chunk", 1 + units(log, "chunk"), slow=1.0)
    assert units(log, "fold") <= 3 + 1  # the folds finished before the first kill were not trained again
    run_to_end(args, log)
    no_partial_files(work)
    resumed, reference = pd.read_parquet(work / "scores.parquet"), pd.read_parquet(pipeline["scores"])
    np.testing.assert_allclose(resumed.mismatch_score, reference.mismatch_score, rtol=1e-4)
    assert list(resumed.product_id) == list(reference.product_id)
    assert (work / "report" / "index.html").exists()
