"""`mmaudit audit`: ingest -> make-negatives -> train -> score -> report in one work folder.

The only module that knows the order of the stages. Each stage is skipped when its output is
there and was made from the same inputs and settings (a stamp in WORKDIR/.stamps), so an
interrupted audit resumes and an unchanged rerun does nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from . import ingest, negatives, report, reviews, score, train
from .config import as_dict
from .files import write_json
from .images import file_sha256
from .progress import log


def stamp_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run(catalog: Path, workdir: Path, configs: dict[str, Any], force: bool = False,
        announce: Callable[[str, str], None] = lambda stage, state: None, until: str = "report",
        reviewed: list[Path] = ()) -> dict[str, Path]:
    """Run the five stages (or those up to `until`) into `workdir`; return the path of each stage's output. `reviewed`:
    review files whose verdicts `train` and `score` use; a changed file redoes them."""
    workdir = Path(workdir)
    stamps = workdir / ".stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    write_json({stage: as_dict(c) for stage, c in configs.items()}, workdir / "config.json")
    paths = {"ingest": workdir / "catalog.parquet", "negatives": workdir / "pairs.parquet", "train": workdir / "model",
             "score": workdir / "scores.parquet", "report": workdir / "report"}
    steps = [
        ("ingest", lambda: ingest.run(catalog, paths["ingest"], configs["ingest"])),
        ("negatives", lambda: negatives.run(paths["ingest"], paths["negatives"], configs["negatives"], configs["engine"])),
        ("train", lambda: train.run(paths["negatives"], paths["train"], configs["train"], paths["ingest"], reviewed)),
        ("score", lambda: score.run(paths["ingest"], paths["train"], paths["score"], configs["score"], configs["negatives"].cache_dir,
                                    configs["engine"], reviewed)),
        ("report", lambda: report.run(paths["score"], paths["report"], configs["report"])),
    ]
    key = stamp_key(str(Path(catalog).resolve()), file_sha256(Path(catalog)))
    verdicts = reviews.read_verdicts(list(reviewed)).to_csv(index=False)  # their content: a report rewriting the file redoes nothing
    for stage, work in steps:
        key = stamp_key(key, stage, as_dict(configs[stage]), verdicts if stage == "train" else [])
        stamp = stamps / f"{stage}.json"
        done = paths[stage].exists() and stamp.exists() and json.loads(stamp.read_text()).get("key") == key
        if done and not force:
            log.info("%s: up to date, skipped", stage)
            announce(stage, "up to date")
            continue
        announce(stage, "running")
        work()
        write_json({"key": key, "output": str(paths[stage])}, stamp)
        announce(stage, "done")
        if stage == until:
            break
    return paths
