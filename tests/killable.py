"""`python -m tests.killable ARGS`: the mmaudit CLI with the tiny backbone, small units of work, and a
line written to $MMAUDIT_TEST_LOG as each unit finishes computing (before it is saved), then a pause
of $MMAUDIT_TEST_SLOW seconds, so a test can SIGKILL the process at a known point."""

from __future__ import annotations

import os
import time

from mmaudit import features, score, train

from .tiny_backbone import register

SHARD, CHUNK = 16, 32


def note(what: str) -> None:
    with open(os.environ["MMAUDIT_TEST_LOG"], "a", encoding="utf-8") as handle:
        handle.write(what + "\n")
    time.sleep(float(os.environ.get("MMAUDIT_TEST_SLOW", "0")))


def wrap(function, describe):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        note(describe(*args))
        return result
    return wrapped


def main() -> None:
    register()
    features.image_arrays = wrap(features.image_arrays, lambda backbone, photos, *groups: f"photos {len(photos)}")
    features.SHARD_SIZE = SHARD
    score.CHUNK = CHUNK
    score.score_chunk = wrap(score.score_chunk, lambda judge, rows, *rest: f"chunk {rows[0]}")
    train.train_fold = wrap(train.train_fold, lambda *args: f"fold {args[5]}")
    from mmaudit.cli import app

    app(prog_name="mmaudit")


if __name__ == "__main__":
    main()
