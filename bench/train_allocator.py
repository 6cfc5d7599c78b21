#!/usr/bin/env python3
"""`mmaudit train` with glibc keeping freed buffers (as shipped) against glibc as it starts, side by side.

    python bench/train_allocator.py PAIRS [--repeats 2]

PAIRS: a pairs.parquet with its catalog and feature cache (e.g. the work folder of `bench/audit_speed.py --n 9583`).
Each run is its own process, `train.run` into a temporary folder; the one "as started" replaces
`train.keep_freed_buffers` with nothing (`allocator.keep_freed_buffers`: set by `train` since the claim heads' steps
take and free buffers of tens of MB). Alternated `--repeats` times; prints each run's seconds and peak resident memory,
the best of each and their ratio. Ratios within one run are what to compare.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys
from pathlib import Path
from mmaudit import train
if sys.argv[1] == "as started":
    train.keep_freed_buffers = lambda: False
train.run(Path(sys.argv[2]), Path(sys.argv[3]))
"""


def one_run(setting: str, pairs: Path) -> tuple[float, int]:
    """Seconds and peak resident MiB of one `train` in a process of its own."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", RUN, setting, str(pairs), str(Path(out) / "model")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(done.stderr[-2000:])
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >> 10  # the largest child's so far


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", type=Path)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    runs: dict[str, list] = {"as started": [], "kept": []}
    for _ in range(a.repeats):
        for setting in runs:
            seconds, peak = one_run(setting, a.pairs)
            runs[setting].append({"seconds": seconds, "peak_mib_so_far": peak})
            print(f"{setting}: {seconds:.1f} s", file=sys.stderr, flush=True)
    best = {setting: min(r["seconds"] for r in values) for setting, values in runs.items()}
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "pairs": str(a.pairs), "runs": runs, "best_s": best,
              "ratio": best["kept"] / best["as started"]}
    print(f"train: as started {best['as started']:.1f} s, kept {best['kept']:.1f} s: **{result['ratio']:.2f}x**")
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"train-allocator-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
