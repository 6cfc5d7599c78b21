#!/usr/bin/env python3
"""Two training signals for the fusion pair model, side by side with the fusion as it ships, end to end on one case.

    python bench/fusion_training.py CASE [--variants shipped curriculum contrastive] [--cache-dir DIR]

CASE is a case folder `bench/quality.py` left (truth.csv, w/catalog.parquet, w/pairs.parquet). Each variant
trains `--model fusion` with the tool's defaults (`mmaudit.train.run`, all folds, heads and stacking as shipped),
changing only how each fold's pair model is trained, then scores with `mmaudit score` and measures with
../shared/bench/evaluate.py:

- shipped: the product's own loop (`mmaudit.train.train_fold`), as the control;
- curriculum: from random to hard (issue 6): the first epoch sees the positives and the random negatives only,
  the later ones every pair;
- contrastive: align before fusing (ALBEF's image-text contrastive term): the matching loss plus an in-batch
  contrastive loss, both directions, temperature 0.07, on the fusion's own projections of the whole text and the
  whole photo for the batch's positive pairs.

Prints one JSON line per variant (evaluate.py's figures, the folds' validation AP per epoch, train and score seconds).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mmaudit import train
from mmaudit.config import TrainConfig
from mmaudit.metrics import average_precision

ROOT = Path(__file__).resolve().parents[1]
EVALUATE = ROOT.parent / "shared" / "bench" / "evaluate.py"
EASY_KINDS = ("positive", "random")
TEMPERATURE = 0.07


def contrastive_loss(model, prepared: dict, text_rows: torch.Tensor, photo_rows: torch.Tensor) -> torch.Tensor:
    """In-batch text-to-photo and photo-to-text cross-entropy over the fusion's whole-text and whole-photo projections."""
    if len(text_rows) < 2:
        return torch.zeros(())
    device = model.text_global.weight.device
    text = F.normalize(model.text_global(prepared["text"][text_rows].to(device).float()), dim=-1)
    photo = F.normalize(model.photo_global(prepared["photo"][photo_rows].to(device).float()), dim=-1)
    logits = text @ photo.T / TEMPERATURE
    target = torch.arange(len(text_rows), device=device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def make_train_fold(variant: str, kinds_of_fold: dict):
    """A `train_fold` with the shipped loop's optimizer, schedule and early stopping; the variant changes which pairs an
    epoch sees (curriculum) or adds a loss (contrastive)."""

    def train_fold(model, prepared, train_rows, val, config: TrainConfig, device, fold, seed):
        model.to(device)
        kinds = kinds_of_fold[fold]
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay)
        easy = np.flatnonzero(np.isin(kinds, EASY_KINDS))
        every = np.arange(len(train_rows[0]))
        epochs = [easy if variant == "curriculum" and e == 0 else every for e in range(config.epochs)]
        steps = sum((len(e) + config.batch_size - 1) // config.batch_size for e in epochs)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(steps, 1), pct_start=0.1)
        history, best = {"epochs": []}, train.BestEpoch(config.patience)
        for epoch, pool in enumerate(epochs):
            model.train()
            order = rng.permutation(pool)
            losses = []
            for s in range(0, len(order), config.batch_size):
                idx = order[s:s + config.batch_size]
                t, p = torch.from_numpy(train_rows[0][idx]), torch.from_numpy(train_rows[1][idx])
                loss = model.loss(prepared, t, p, torch.from_numpy(train_rows[2][idx]))  # the matching and the model's word task
                if variant == "contrastive":
                    matched = torch.from_numpy(kinds[idx] == "positive")
                    loss = loss + contrastive_loss(model, prepared, t[matched], p[matched])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
            val_logits = train._logits(model, prepared, val[0], val[1], 4 * config.batch_size)
            val_ap = average_precision(val[2], val_logits)
            history["epochs"].append({"epoch": epoch + 1, "pairs": int(len(pool)), "loss": float(np.mean(losses)), "val_ap": val_ap})
            print(f"{variant} fold {fold} epoch {epoch + 1}: {len(pool)} pairs, loss {np.mean(losses):.4f}, val AP {val_ap:.4f}",
                  file=sys.stderr, flush=True)
            if best.stop_after(model, val_ap, val_logits):
                break
        return best.restore(model, history)

    return train_fold


def run_variant(case: Path, variant: str, cache_dir: Path | None) -> dict:
    work = case / "w"
    shipped_fit, shipped_loop = train.fit_pair_models, train.train_fold
    kinds_of_fold: dict[int, np.ndarray] = {}

    def fit_pair_models(config, settings, dims, feats, pairs, *rest):
        for fold in range(int(pairs.fold.max()) + 1):  # the training rows of a fold, in the order fit_pair_models passes them
            kinds_of_fold[fold] = pairs.kind.to_numpy()[pairs.fold.to_numpy() != fold]
        return shipped_fit(config, settings, dims, feats, pairs, *rest)

    train.fit_pair_models = fit_pair_models
    if variant != "shipped":
        train.train_fold = make_train_fold(variant, kinds_of_fold)
    model_dir, scores = work / f"model-fusion-{variant}", work / f"scores-fusion-{variant}.parquet"
    start = time.perf_counter()
    try:
        train.run(work / "pairs.parquet", model_dir, TrainConfig(model="fusion"))
    finally:
        train.fit_pair_models, train.train_fold = shipped_fit, shipped_loop
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    cache = ["--cache-dir", str(cache_dir)] if cache_dir else []
    subprocess.run([sys.executable, "-m", "mmaudit.cli", "score", str(work / "catalog.parquet"), "-m", str(model_dir), "-o", str(scores),
                    *cache], check=True, stdout=subprocess.DEVNULL)
    score_s = time.perf_counter() - start
    figures = json.loads(subprocess.run([sys.executable, str(EVALUATE), str(case / "truth.csv"), str(scores), "--score-col",
                                         "mismatch_score", "--partner-col", "photo_fits", "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    folds = json.loads((model_dir / "metrics.json").read_text())["folds"]  # train.run writes it with every model
    val_ap = [[e["val_ap"] for e in f["epochs"]] for f in folds]
    return {"variant": variant, **figures, "fold_val_ap_by_epoch": val_ap, "train_s": train_s, "score_s": score_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", type=Path)
    ap.add_argument("--variants", nargs="+", default=["shipped", "curriculum", "contrastive"],
                    choices=["shipped", "curriculum", "contrastive"])
    ap.add_argument("--cache-dir", type=Path)
    a = ap.parse_args()
    for variant in a.variants:
        print(json.dumps(run_variant(a.case, variant, a.cache_dir)), flush=True)


if __name__ == "__main__":
    main()
