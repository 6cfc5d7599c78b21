#!/usr/bin/env python3
"""FAISS at scale: exact (IndexFlatIP) against HNSW on N synthetic 384-d unit vectors.

    python bench/faiss_scale.py [--n 1000000] [--queries 2000]

Reports build time, query time per 1,000 queries, recall@10 of HNSW against exact, and memory.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=384)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    # Clustered data, closer to real embeddings than uniform noise.
    centres = rng.normal(size=(1000, a.dim)).astype(np.float32)
    x = centres[rng.integers(0, 1000, a.n)] + 0.5 * rng.normal(size=(a.n, a.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.choice(a.n, a.queries, replace=False)]
    print("| index | build s | query s / 1000 | recall@10 | memory MiB |")
    print("|---|---|---|---|---|")
    start = time.perf_counter()
    flat = faiss.IndexFlatIP(a.dim)
    flat.add(x)
    build = time.perf_counter() - start
    start = time.perf_counter()
    _, truth = flat.search(q, 10)
    per_k = (time.perf_counter() - start) / a.queries * 1000
    print(f"| exact | {build:.1f} | {per_k:.2f} | 1.000 | {x.nbytes / 2**20:.0f} |", flush=True)
    for m, ef in ((32, 64), (32, 128)):
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(a.dim, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(x)
        build = time.perf_counter() - start
        hnsw.hnsw.efSearch = ef
        start = time.perf_counter()
        _, found = hnsw.search(q, 10)
        per_k = (time.perf_counter() - start) / a.queries * 1000
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
        memory = (x.nbytes + a.n * m * 2 * 4) / 2**20
        print(f"| HNSW M={m} efSearch={ef} | {build:.1f} | {per_k:.2f} | {recall:.3f} | {memory:.0f} |", flush=True)


if __name__ == "__main__":
    main()
