"""Nearest neighbours by cosine on L2-normalised vectors (FAISS), exact for small sets, HNSW above."""

from __future__ import annotations

import faiss
import numpy as np

EXACT_LIMIT = 100_000  # above this, HNSW (M 32, efSearch 64) is faster at recall@10 0.97 (BENCHMARKS.md, bench/faiss_scale.py)


def build_index(vectors: np.ndarray) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    index.add(vectors)
    return index


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, positions) of the k nearest, the query itself included when it is in the index."""
    k = min(k, index.ntotal)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
