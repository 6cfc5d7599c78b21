#!/usr/bin/env python3
"""How well, and at what cost, word heads read a catalog's words from its photos: one held-out fold, several settings.

    python bench/word_heads.py WORK [--settings 300,40,1,256 500,20,1,256 ...]

WORK is a work folder (catalog.parquet and pairs.parquet, features cached) from `mmaudit audit` or bench/quality.py.
Each setting is words per text column, epochs, members per view, hidden units. The heads train on two folds of three
and are read on the third; printed per text column: the mean ROC-AUC over the words, how many reach
`words.MIN_WORD_AUC`, the mean log-loss, and the training seconds (these machines are shared: compare settings within
one run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from mmaudit.features import dims_of
from mmaudit.models.attributes import AttributeHeads, input_sizes, rows_of
from mmaudit.models.words import MIN_WORD_AUC, mine_vocabulary, roc_auc_per_label, stated_words, word_labels
from mmaudit.train import load_training_data, text_columns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--settings", nargs="+", default=["300,40,1,256"], help="words,epochs,members,hidden")
    a = ap.parse_args()
    _, products, feats, _ = load_training_data(a.work / "pairs.parquet", a.work / "catalog.parquet")
    x, dims = feats["inputs"], dims_of(feats)
    held_out = np.arange(len(products)) % 3 == 0
    train_rows, test_rows = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    columns = text_columns(products, a.work / "catalog.parquet")
    for setting in a.settings:
        size, epochs, members, hidden = (int(v) for v in setting.split(","))
        labels = {}
        for column in columns:
            vocabulary = mine_vocabulary(products[column], size)
            labels[column] = word_labels(stated_words(products[column], vocabulary), len(vocabulary))
        torch.manual_seed(0)
        heads = AttributeHeads(input_sizes(x), {c: v.shape[1] for c, v in labels.items()}, dims, frozenset(labels), members, hidden)
        start = time.perf_counter()
        heads.fit(rows_of(x, train_rows), {c: v[train_rows] for c, v in labels.items()}, epochs, 0)
        seconds = time.perf_counter() - start
        log_probs = heads.log_probs(rows_of(x, test_rows))
        parts = [f"words {size}, epochs {epochs}, members {members}, hidden {hidden}: {seconds:.0f} s"]
        for column, values in labels.items():
            truth = values[test_rows]
            auc = roc_auc_per_label(truth, log_probs[column][..., 1])
            seen = truth.sum(0) > 0
            loss = -np.where(truth == 1, log_probs[column][..., 1], log_probs[column][..., 0]).mean()
            parts.append(f"{column}: mean AUC {auc[seen].mean():.3f}, {int((auc >= MIN_WORD_AUC).sum())}/{truth.shape[1]} "
                         f"at {MIN_WORD_AUC} or more, log-loss {loss:.4f}")
        print(" | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
