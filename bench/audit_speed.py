#!/usr/bin/env python3
"""The audit against the bare towers, side by side in one run, from a cold cache: how far the whole audit is from the
towers' own forward pass (the physical limit of the offline default on this machine), and each stage's share.

    python bench/audit_speed.py [--n 2000] [--out bench-out/audit-speed] [--mode columns|titles] [--set stage.key=value]
                                [--backbone NAME] [--batch-size 0]

Takes the first N products of ../shared/datasets/myntra-fashion. Bare towers: the photo tower on both views of each
photo (the photo as shot and its product view, the two the audit encodes; once where the product view is the photo
itself, as the audit does) and the text tower on each product's text,
at the audit's batch size (`--batch-size`; 0, the default, is the audit's own choice for the device) on the audit's
device and threads, the photos decoded and cut beforehand (decoding is the audit's work, not the towers').
Then the five stages as a user runs them (`ingest`, `make-negatives`, `train`, `score`, `report`), each timed with its
peak memory, into a fresh work folder with a fresh cache. Prints the ratio audit / towers and each stage's share.
With `--one-process`, also `mmaudit audit` (the five in one process, the command the README runs) into another fresh
folder and cache: the five commands less it is what starting four more processes costs (imports, loading the towers).
`--set` (repeatable) is given to every stage, to time a setting against the default. With `--towers-twice`, the bare
towers are also timed once `ingest` is done, before the other four stages, and the ratio is against the mean of the two
timings: on a shared machine whose speed moves within the hour, two different figures say the run is not to be read
alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from quality import DATA, MMAUDIT, ROOT, TITLES_ONLY, machine, timed

from mmaudit.backbones import get_config
from mmaudit.config import NegativesConfig
from mmaudit.features import extraction_batch


def bare_towers(catalog: Path, backbone_name: str, batch: int) -> dict:
    """Seconds of the towers' forward pass alone on the ingested catalog's photos (both views) and texts."""
    import pandas as pd

    from mmaudit.backbones import load
    from mmaudit.images import load_rgb, product_view

    table = pd.read_parquet(catalog, columns=["image_path", "text", "status"])
    table = table[table.status == "ok"]
    images = [load_rgb(Path(p)) for p in table.image_path]
    cut = [view for image, view in zip(images, map(product_view, images)) if view is not image]  # a view that is its photo: encoded once
    views = images + cut
    backbone = load(backbone_name)
    backbone.encode_photos(views[:batch])  # warm-up
    backbone.encode_texts(list(table.text[:batch]))
    start = time.perf_counter()
    for s in range(0, len(views), batch):
        backbone.encode_photos(views[s:s + batch])
    photos_s = time.perf_counter() - start
    texts = list(table.text)
    start = time.perf_counter()
    for s in range(0, len(texts), batch):
        backbone.encode_texts(texts[s:s + batch])
    return {"photos": len(views), "texts": len(texts), "photo_tower_s": photos_s, "text_tower_s": time.perf_counter() - start}


def bare_towers_apart(catalog: Path, backbone_name: str, batch: int) -> dict:
    """`bare_towers` in a process of its own: this one's memory stays as small as it was, and with it the peaks read for
    the stages it starts after (a child's peak counts the memory its parent had when it started it)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(bare_towers, catalog, backbone_name, batch).result()


def audit_stages(catalog_csv: Path, work: Path) -> dict[str, list[str]]:
    """The five commands as a user runs them, into `work` with its own feature cache."""
    cache = ["--cache-dir", str(work / "features")]
    return {"ingest": [*MMAUDIT, "ingest", str(catalog_csv), "-o", str(work / "catalog.parquet"), "--images-root", str(DATA)],
            "make-negatives": [*MMAUDIT, "make-negatives", str(work / "catalog.parquet"), "-o", str(work / "pairs.parquet"), *cache],
            "train": [*MMAUDIT, "train", str(work / "pairs.parquet"), "-o", str(work / "model")],
            "score": [*MMAUDIT, "score", str(work / "catalog.parquet"), "-m", str(work / "model"), "-o", str(work / "scores.parquet"), *cache],
            "report": [*MMAUDIT, "report", str(work / "scores.parquet"), "-o", str(work / "report")]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("bench-out/audit-speed"))
    ap.add_argument("--mode", choices=["columns", "titles"], default="columns")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--one-process", action="store_true", help="also time `mmaudit audit`, the five stages in one process")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="a setting (stage.key=value) for every stage")
    ap.add_argument("--backbone", default=NegativesConfig.backbone, help="the towers (negatives.backbone), of the audit and the bare towers")
    ap.add_argument("--batch-size", type=int, default=NegativesConfig.batch_size,
                    help="photos and texts per tower call (negatives.batch_size; 0: the audit's choice for the device)")
    ap.add_argument("--towers-twice", action="store_true", help="time the bare towers before the four stages after ingest too")
    a = ap.parse_args()
    a.sets += [f"negatives.backbone={a.backbone}", f"negatives.batch_size={a.batch_size}"]
    settings = [x for s in a.sets for x in ("--set", s)]
    import pandas as pd

    shutil.rmtree(a.out, ignore_errors=True)
    a.out.mkdir(parents=True)
    rows = pd.read_csv(DATA / "products.csv", dtype=str, keep_default_na=False).head(a.n)
    catalog_csv = a.out / "products.csv"
    (rows[TITLES_ONLY] if a.mode == "titles" else rows).to_csv(catalog_csv, index=False)
    w = a.out / "work"
    times, timings = {}, []
    batch = extraction_batch(get_config(a.backbone), a.batch_size)
    for stage, cmd in audit_stages(catalog_csv, w).items():
        times[stage] = timed(cmd + settings)
        print(f"{stage}: {times[stage][0]:.0f} s, peak {times[stage][1]} MiB", file=sys.stderr, flush=True)
        if stage == "ingest" and a.towers_twice:
            timings.append(bare_towers_apart(w / "catalog.parquet", a.backbone, batch))
            print(f"bare towers before: {timings[-1]['photo_tower_s'] + timings[-1]['text_tower_s']:.0f} s", file=sys.stderr, flush=True)
    if a.one_process:
        times_audit = timed([*MMAUDIT, "audit", str(catalog_csv), "-o", str(a.out / "work-audit"), "--set", f"ingest.images_root={DATA}", *settings])
        print(f"audit (one process): {times_audit[0]:.0f} s, peak {times_audit[1]} MiB", file=sys.stderr, flush=True)
    timings.append(bare_towers_apart(w / "catalog.parquet", a.backbone, batch))
    towers = {key: (sum(t[key] for t in timings) / len(timings) if key.endswith("_s") else timings[-1][key]) for key in timings[-1]}
    bare = towers["photo_tower_s"] + towers["text_tower_s"]
    audit = sum(t for t, _ in times.values())
    result = {"date": dt.datetime.now().isoformat(timespec="minutes"), "machine": machine(), "n": a.n, "mode": a.mode, "settings": a.sets, **towers,
              "stages": {s: {"seconds": t, "peak_mib": m} for s, (t, m) in times.items()}, "audit_s": audit, "ratio": audit / bare}
    if len(timings) > 1:
        result["towers_before_and_after_s"] = [t["photo_tower_s"] + t["text_tower_s"] for t in timings]
    if a.one_process:
        result["one_process"] = {"seconds": times_audit[0], "peak_mib": times_audit[1], "ratio": times_audit[0] / bare}
    a.results.mkdir(parents=True, exist_ok=True)
    path = a.results / f"audit-speed-{a.mode}-{dt.datetime.now():%Y-%m-%d-%H%M}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"{a.n} products ({a.mode}); bare towers {bare:.0f} s ({towers['photos']} photos {towers['photo_tower_s']:.0f} s, "
          f"{towers['texts']} texts {towers['text_tower_s']:.0f} s)"
          + (" as the mean of {:.0f} s before the four stages and {:.0f} s after".format(*result["towers_before_and_after_s"]) if len(timings) > 1 else "")
          + f"; audit {audit:.0f} s: **{audit / bare:.2f}x** the towers")
    print("| stage | seconds | share of the audit | x the towers | peak MiB |\n|---|---|---|---|---|")
    for stage, (seconds, peak) in times.items():
        print(f"| {stage} | {seconds:.0f} | {seconds / audit:.0%} | {seconds / bare:.2f} | {peak} |")
    if a.one_process:
        print(f"`mmaudit audit` (one process): {times_audit[0]:.0f} s, **{times_audit[0] / bare:.2f}x** the towers, peak {times_audit[1]} MiB")
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
