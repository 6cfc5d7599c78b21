#!/usr/bin/env python3
"""One step's loss gradient of the claim heads' columns of classes, column by column (the way before) against the
columns sharing their calls (`head_fitting.loss_gradient` as shipped), on the shapes of the shared catalog's attribute
heads: 18 networks (3 members x 2 views x 3 folds), batches of 512, 17 columns (the catalog's attribute columns and its
title's slots) of 134 to 4 classes.

    python bench/head_steps.py [--repeats 5] [--steps 50]

Each way gathers the step's codes from the padded tables (per column, or all columns at once) and writes the gradient;
both give the same numbers (checked). Alternated `repeats` times, `steps` steps each; prints ms per step and the ratio.
Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import torch

from mmaudit.allocator import keep_freed_buffers
from mmaudit.models.head_fitting import BATCH, SMOOTHING, loss_gradient, row_weights, rows_at

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [134, 6, 7, 6, 28, 66, 38, 5, 6, 48, 61, 39, 6, 6, 5, 4, 4]  # the shared catalog's, columns mode
NETWORKS, TABLES, ROWS = 18, 6, 6400


def by_column(outputs: torch.Tensor, codes: list[torch.Tensor], at: torch.Tensor) -> torch.Tensor:
    """The way before: each column's codes gathered, its gradient written, and the pieces joined."""
    pieces = []
    for out, table in zip(outputs.split(CLASSES, -1), codes):
        y = rows_at(table, at, NETWORKS)
        gradient = torch.softmax(out, -1).sub_(SMOOTHING / out.shape[-1])
        stated = y.clamp(min=0)[..., None]
        gradient.scatter_add_(-1, stated, torch.full(stated.shape, -(1 - SMOOTHING), dtype=out.dtype))
        pieces.append(gradient.mul_(row_weights(y >= 0)[..., None]))
    return torch.cat(pieces, -1)


def together(outputs: torch.Tensor, stated: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """As shipped: the columns' codes gathered at once, the gradient from `loss_gradient`."""
    return loss_gradient(outputs, rows_at(stated, at, NETWORKS), [], CLASSES, [])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    keep_freed_buffers()  # as `train` runs
    generator = torch.Generator().manual_seed(0)
    codes = [torch.randint(-1, k, (TABLES, ROWS), generator=generator) for k in CLASSES]
    stated = torch.stack(codes, -1)
    outputs = [torch.randn(NETWORKS, BATCH, sum(CLASSES), generator=generator) * 3 for _ in range(4)]
    batches = [(torch.arange(NETWORKS)[:, None] % TABLES * ROWS + torch.randint(0, ROWS, (NETWORKS, BATCH), generator=generator)).flatten()
               for _ in range(4)]
    for out, at in zip(outputs, batches):
        assert torch.equal(by_column(out, codes, at), together(out, stated, at)), "the two ways differ"
    ways = {"by column": lambda out, at: by_column(out, codes, at), "together": lambda out, at: together(out, stated, at)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(a.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            for s in range(a.steps):
                way(outputs[s % 4], batches[s % 4])
            times[name].append((time.perf_counter() - start) / a.steps * 1e3)
    best = {name: min(values) for name, values in times.items()}
    ratio = best["together"] / best["by column"]
    print(f"ms per step: by column {best['by column']:.2f}, together {best['together']:.2f}: **{ratio:.2f}x** (the same gradients)")
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "torch_threads": torch.get_num_threads(), "classes": CLASSES,
              "networks": NETWORKS, "ms_per_step": times, "best_ms": best, "ratio": ratio}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"head-steps-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
