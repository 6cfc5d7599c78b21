#!/usr/bin/env python3
"""The offline towers' speed with and without what the audit does to run them faster, side by side: the photo tower as
its package builds it or in its inference form (`offline.inference_form`: batch norms folded, paddings in the
convolutions, ReLU6 in place), and glibc's allocator as it starts or keeping freed buffers
(`allocator.keep_freed_buffers`).

    python bench/tower_forms.py [--n 256] [--batch 8] [--threads 2] [--repeats 2] [--results DIR]

Each variant runs in a process of its own (the allocator's setting is per process), the variants alternated
`--repeats` times; each encodes the first N photos of ../shared/datasets/myntra-fashion (decoded beforehand) and their
texts at the audit's CPU batch size. Prints photos/s, texts/s and peak memory per variant, each as a ratio to the
package's tower with the allocator as it starts, and how far each variant's pooled photo vectors and region tokens are
from that one's.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "myntra-fashion"
VARIANTS = {"package, allocator as started": ("package", False), "package, freed buffers kept": ("package", True),
            "inference form, allocator as started": ("inference", False), "inference form, freed buffers kept": ("inference", True)}
REFERENCE = "package, allocator as started"


def child(form: str, keep: bool, n: int, batch: int, threads: int, out: Path) -> None:
    import pandas as pd
    import torch

    import mmaudit.backbones as backbones
    from mmaudit.backbones.offline import load_photo_tower
    from mmaudit.images import load_rgb

    torch.set_num_threads(threads)
    if not keep:
        backbones.keep_freed_buffers = lambda: False  # build() would set the allocator
    backbone = backbones.load("offline-lite0-minilm")
    if form == "package":
        backbone.photo = load_photo_tower(backbone.config)
    rows = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False).head(n)
    photos = [load_rgb(DATA / p) for p in rows.image]
    texts = [f"{t}. {d}" for t, d in zip(rows.title, rows.description)]
    backbone.encode_photos(photos[:batch])  # warm-up
    backbone.encode_texts(texts[:batch])
    start = time.perf_counter()
    encoded = [backbone.encode_photos(photos[s:s + batch]) for s in range(0, n, batch)]
    photo_s = time.perf_counter() - start
    start = time.perf_counter()
    for s in range(0, n, batch):
        backbone.encode_texts(texts[s:s + batch])
    text_s = time.perf_counter() - start
    np.savez(out, pooled=np.concatenate([e.pooled for e in encoded]), regions=np.concatenate([e.regions for e in encoded]))
    print(json.dumps({"photos_per_s": n / photo_s, "texts_per_s": n / text_s,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(*VARIANTS[a.child], a.n, a.batch, a.threads, a.child_out)
        return
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(a.repeats):
            for name in VARIANTS:
                out = Path(tmp) / f"{list(VARIANTS).index(name)}.npz"
                done = subprocess.run([sys.executable, __file__, "--child", name, "--child-out", str(out), "--n", str(a.n),
                                       "--batch", str(a.batch), "--threads", str(a.threads)],
                                      check=True, capture_output=True, text=True, cwd=ROOT)
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"{repeat} {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
        arrays = {name: np.load(Path(tmp) / f"{i}.npz") for i, name in enumerate(VARIANTS)}
        ref = arrays[REFERENCE]
        result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "n": a.n, "batch": a.batch, "threads": a.threads,
                  "repeats": a.repeats, "variants": {}}
        for name in VARIANTS:
            best = {k: max(r[k] for r in runs[name]) for k in ("photos_per_s", "texts_per_s")}
            result["variants"][name] = {
                "runs": runs[name], **best, "peak_mib": max(r["peak_mib"] for r in runs[name]),
                "pooled_cosine_min": float((arrays[name]["pooled"] * ref["pooled"]).sum(1).min()),
                "regions_max_abs_diff": float(np.abs(arrays[name]["regions"].astype(np.float32) - ref["regions"].astype(np.float32)).max())}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"tower-forms-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1))
    base = result["variants"][REFERENCE]
    print(f"{a.n} photos and texts, batch {a.batch}, {a.threads} threads, best of {a.repeats} alternated runs")
    print("| variant | photos/s | x | texts/s | x | peak MiB | pooled cosine min | regions max abs diff |\n|---|---|---|---|---|---|---|---|")
    for name, v in result["variants"].items():
        print(f"| {name} | {v['photos_per_s']:.1f} | {v['photos_per_s'] / base['photos_per_s']:.2f} | {v['texts_per_s']:.1f} | "
              f"{v['texts_per_s'] / base['texts_per_s']:.2f} | {v['peak_mib']:.0f} | {v['pooled_cosine_min']:.6f} | "
              f"{v['regions_max_abs_diff']:.2g} |")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
