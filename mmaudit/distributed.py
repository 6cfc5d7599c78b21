"""`--engine ray`: batch inference on a pool of Ray actors, for feature extraction (`features.RayExtractor`) and
scoring (`score.RayScorer`). This module knows neither: it runs a worker class over batches.

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

import pandas as pd

from .config import EngineConfig
from .errors import MMAuditError
from .progress import log

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


def worker_threads(cpus: float) -> None:
    """Torch threads of an actor: its share of CPUs."""
    import torch

    torch.set_num_threads(max(1, int(cpus)))


def share(engine: EngineConfig, value) -> list:
    """`value` put once in the cluster's object store, for every actor to read with `shared_value` (a list, so Ray
    passes the reference itself, not the value)."""
    return [connect(engine).put(value)]


def shared_value(handle: list):
    import ray

    return ray.get(handle[0])


def map_actors(engine: EngineConfig, worker: type, worker_kwargs: dict, blocks: list[pd.DataFrame], batch_size: int,
               out_format: str = "numpy") -> Iterator:
    """Run `worker` over the rows of `blocks` on the actor pool: each actor builds it once (`worker_kwargs` and `cpus`,
    its share of CPUs) and calls it on batches of `batch_size` rows (numpy); the result batches come back in the order
    they finish, as `out_format` (numpy or pandas). A block is the unit a retried task (its worker died) redoes."""
    ray = connect(engine)
    results = ray.data.from_pandas(blocks).map_batches(worker, fn_constructor_kwargs={**worker_kwargs, "cpus": engine.cpus_per_actor},
                                                       batch_size=batch_size, batch_format="numpy", **pool(engine, ray))
    yield from results.iter_batches(batch_size=None, batch_format=out_format, prefetch_batches=1)
