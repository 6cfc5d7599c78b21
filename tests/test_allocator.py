"""glibc's allocator is set once the towers load or `train` starts, and left alone where it is not glibc or the user set it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from mmaudit import allocator

# glibc has no getter for these settings; what shows them is the heap: a freed 64 MiB buffer stays with the process
# (counted in its resident memory) only when buffers that large come from the heap and are not trimmed back.
RESIDENT_AFTER_FREE = """
import ctypes, sys
from mmaudit import allocator
if sys.argv[1] == "kept":
    assert allocator.keep_freed_buffers()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
size = 64 << 20
buffer = libc.malloc(size)
ctypes.memset(buffer, 1, size)
before = resident()
libc.free(buffer)
print((before - resident()) >> 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
@pytest.mark.parametrize("setting, returned_mib", [("as started", 64), ("kept", 0)])
def test_freed_buffers_stay_for_reuse_once_set(setting, returned_mib):
    out = subprocess.run([sys.executable, "-c", RESIDENT_AFTER_FREE, setting], capture_output=True, text=True, check=True)
    assert abs(int(out.stdout) - returned_mib) <= 2


def test_the_users_own_glibc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert allocator.keep_freed_buffers() is False


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_buffers() is False


def test_train_sets_the_allocator_before_its_work(monkeypatch, tmp_path):
    """`train` runs no tower, so `backbones.build` does not set glibc for it: it does so itself, first thing (its heads'
    steps take and free buffers of tens of MB)."""
    from mmaudit import train

    class Set(Exception):
        pass

    def setting():
        raise Set

    monkeypatch.setattr(train, "keep_freed_buffers", setting)
    with pytest.raises(Set):
        train.run(tmp_path / "no-pairs.parquet", tmp_path / "model")


THP_AFTER = """
import ctypes
from mmaudit import allocator
print(allocator.no_huge_pages(), ctypes.CDLL(None).prctl(42, 0, 0, 0, 0))  # PR_GET_THP_DISABLE
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="Linux's transparent huge pages")
@pytest.mark.parametrize("users_setting, printed", [(None, "True 1"), ("1", "False 0")])
def test_huge_pages_are_turned_off_for_the_process_unless_the_user_set_numpys_variable(users_setting, printed):
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"} | ({"NUMPY_MADVISE_HUGEPAGE": users_setting} if users_setting else {})
    out = subprocess.run([sys.executable, "-c", THP_AFTER], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == printed.split()


@pytest.mark.parametrize("stage", ["make-negatives", "train", "score"])
def test_the_stages_that_fill_large_arrays_turn_huge_pages_off_before_their_work(monkeypatch, tmp_path, stage):
    from mmaudit import negatives, score, train

    class Set(Exception):
        pass

    def setting():
        raise Set

    module = {"make-negatives": negatives, "train": train, "score": score}[stage]
    monkeypatch.setattr(module, "no_huge_pages", setting)
    with pytest.raises(Set):
        if stage == "make-negatives":
            negatives.run(tmp_path / "no-catalog.parquet", tmp_path / "pairs.parquet")
        elif stage == "train":
            train.run(tmp_path / "no-pairs.parquet", tmp_path / "model")
        else:
            score.run(tmp_path / "no-catalog.parquet", tmp_path / "no-model", tmp_path / "scores.parquet")
