#!/usr/bin/env python3
"""FAISS at scale: exact (IndexFlatIP) against HNSW and compressed IVF indexes on N synthetic 384-d unit vectors.

    python bench/faiss_scale.py [--n 1000000] [--queries 2000] [--only-compressed]

Reports build time, query time per 1,000 queries, recall@10 against exact, and memory (the serialized
index, which is what it holds in RAM). The compressed indexes (IVF with 8-bit scalar or product
quantization, an HNSW coarse quantizer) are what `mmaudit/neighbours.py` uses for tens of millions.
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
    ap.add_argument("--only-compressed", action="store_true", help="skip the HNSW rows (measured before, slow to build)")
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
    for m, ef in ((32, 64), (32, 128)) if not a.only_compressed else ():
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
    for spec, nprobes in (("SQ8", (16, 32, 64)), ("PQ48", (16, 32, 64))):
        compressed(x, q, truth, spec, nprobes)


def compressed(x: np.ndarray, q: np.ndarray, truth: np.ndarray, spec: str, nprobes: tuple[int, ...]) -> None:
    """IVF with an HNSW coarse quantizer, trained on a sample, as neighbours.compressed_index builds it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mmaudit.neighbours import compressed_index

    start = time.perf_counter()
    index = compressed_index(x, spec)
    build = time.perf_counter() - start
    memory = len(faiss.serialize_index(index)) / 2**20
    for nprobe in nprobes:
        faiss.extract_index_ivf(index).nprobe = nprobe
        start = time.perf_counter()
        _, found = index.search(q, 10)
        per_k = (time.perf_counter() - start) / len(q) * 1000
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
        print(f"| IVF{faiss.extract_index_ivf(index).nlist} {spec} nprobe={nprobe} | {build:.1f} | {per_k:.2f} | {recall:.3f} | {memory:.0f} |", flush=True)


if __name__ == "__main__":
    main()
