"""`--engine ray`: feature extraction and scoring as Ray Data batch inference on a pool of actors.

This process still reads the catalog and writes every output (the feature cache's shards, the scoring
parts), as results arrive: so both engines fill the same files, a rerun resumes from what is written,
and a worker that dies costs only its unfinished batches (Ray restarts the actor and retries them).
Each actor loads the towers, or receives the scoring models and features, once, not per batch.

Workers read the photos by the paths in catalog.parquet: on a cluster of several machines, those paths
(and mmaudit itself) must exist on every node, as for any Ray batch inference over files.
"""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np
import pandas as pd

from .config import EngineConfig
from .errors import MMAuditError
from .progress import log

BLOCK_BATCHES = 2  # batches per Ray task: a retried task (its worker died) redoes at most this many


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise MMAuditError("--engine ray needs Ray, which is not installed here: pip install 'mmaudit[ray]' "
                           "(or use --engine local)") from None
    return ray


def connect(engine: EngineConfig):
    """Join the cluster at `engine.ray_address` (`auto`, `ray://host:10001`, `host:6379`), or start a local one."""
    ray = _import_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=engine.ray_address or None, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = engine.ray_address or "a new local instance"
            raise MMAuditError(f"--engine ray: cannot start or reach Ray at {where} ({exc}); start a cluster with "
                               "`ray start --head` and pass --ray-address, or leave it empty for a local instance") from exc
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is on stderr already
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


def pool(engine: EngineConfig, ray) -> dict:
    """map_batches arguments for the actor pool: one actor per GPU (or per `cpus_per_actor` CPUs) unless set."""
    resources = ray.cluster_resources()
    gpus = engine.gpus_per_actor if engine.gpus_per_actor is not None else (1.0 if resources.get("GPU", 0) >= 1 else 0.0)
    if engine.actors > 0:
        actors = engine.actors
    elif gpus > 0:
        actors = max(1, int(resources.get("GPU", 0) / gpus))
    else:
        actors = max(1, int(resources.get("CPU", 1) / engine.cpus_per_actor))
    log.info("ray: %d actor(s), %.2g CPU and %.2g GPU each", actors, engine.cpus_per_actor, gpus)
    return {"concurrency": (1, actors, actors), "num_cpus": engine.cpus_per_actor, "num_gpus": gpus}


def _threads(cpus: float) -> None:
    import torch

    torch.set_num_threads(max(1, int(cpus)))


class Extractor:
    """An actor holding one backbone: a batch of (key, photo path or text) -> the cache's arrays.

    Every input row comes back (a photo that cannot be read has zeros and its problem in `error`),
    so every output block has the same columns."""

    def __init__(self, backbone_config: dict, kind: str, cpus: float):
        from . import backbones
        from .features import encode

        _threads(cpus)
        self.backbone, self.kind, self.encode = backbones.build(backbone_config), kind, encode
        self.blank: dict[str, np.ndarray] | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys, items = [str(k) for k in batch["key"]], [str(i) for i in batch["item"]]
        done, arrays, failed = self.encode(self.backbone, self.kind, keys, items)
        if not failed:
            return {"key": np.array(keys), "error": np.array([""] * len(keys))} | arrays
        if self.blank is None:
            self.blank = self._blank()
        position = {k: p for p, k in enumerate(done)}
        full = {n: np.stack([arrays[n][position[k]] if k in position else self.blank[n] for k in keys]) for n in self.blank}
        return {"key": np.array(keys), "error": np.array([failed.get(k, "") for k in keys])} | full

    def _blank(self) -> dict[str, np.ndarray]:
        """Zeros shaped like one photo's arrays, for rows whose photo could not be read."""
        from PIL import Image

        from .features import image_arrays

        arrays = image_arrays(self.backbone, [Image.new("RGB", (64, 64), (128, 128, 128))])
        return {n: np.zeros_like(a[0]) for n, a in arrays.items()}


def extract(engine: EngineConfig, backbone_config: dict, kind: str, keys: list[str], items: list[str],
            batch_size: int) -> Iterator[tuple[list[str], dict[str, np.ndarray], dict[str, str], int]]:
    """(keys computed, their arrays, key -> problem, rows done) per finished batch, in the order they finish."""
    ray = connect(engine)
    frame = pd.DataFrame({"key": keys, "item": items})
    step = batch_size * BLOCK_BATCHES
    dataset = ray.data.from_pandas([frame.iloc[s:s + step] for s in range(0, len(frame), step)])
    results = dataset.map_batches(Extractor, fn_constructor_kwargs={"backbone_config": backbone_config, "kind": kind,
                                                                    "cpus": engine.cpus_per_actor},
                                  batch_size=batch_size, batch_format="numpy", **pool(engine, ray))
    for batch in results.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
        key, error = batch.pop("key"), batch.pop("error")
        good = error == ""
        yield ([str(k) for k in key[good]], {n: a[good] for n, a in batch.items()},
               {str(k): str(e) for k, e in zip(key[~good], error[~good])}, len(key))


class Scorer:
    """An actor holding a copy of the driver's judge (fold models, prepared features): chunk starts -> their scores."""

    def __init__(self, shared: list, cpus: float):
        import ray

        from .devices import pick_device

        _threads(cpus)
        job = ray.get(shared[0])
        self.judge = job["judge"].to(pick_device(job["device"]))
        self.cands, self.own, self.chunk = job["cands"], job["own"], job["chunk"]

    def __call__(self, batch: dict[str, np.ndarray]) -> pd.DataFrame:
        from .exchanges import score_chunk

        n = len(self.own)
        return pd.concat([score_chunk(self.judge, np.arange(s, min(s + self.chunk, n)), self.cands, self.own)
                          for s in batch["start"]], ignore_index=True)


def score_chunks(engine: EngineConfig, job: dict, starts: list[int]) -> Iterator[tuple[int, pd.DataFrame]]:
    """(chunk start, its scores) for each chunk of `starts`, in the order they finish. `job` holds the judge,
    the device name, the candidates, the products' own logits and the chunk size."""
    ray = connect(engine)
    shared = ray.put(job)
    dataset = ray.data.from_items([{"start": s} for s in starts], override_num_blocks=len(starts))
    results = dataset.map_batches(Scorer, fn_constructor_kwargs={"shared": [shared], "cpus": engine.cpus_per_actor},
                                  batch_size=1, batch_format="numpy", **pool(engine, ray))
    chunk = job["chunk"]
    for frame in results.iter_batches(batch_size=None, batch_format="pandas", prefetch_batches=1):
        for start, part in frame.groupby(frame.row // chunk * chunk, sort=True):
            yield int(start), part.reset_index(drop=True)
