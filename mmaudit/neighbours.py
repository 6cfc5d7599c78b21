"""Nearest neighbours by cosine on L2-normalised vectors (FAISS): exact for small sets, HNSW for
millions, a compressed IVF index above that (memory per million in BENCHMARKS.md, bench/faiss_scale.py)."""

from __future__ import annotations

import math

import faiss
import numpy as np

EXACT_LIMIT = 100_000  # above this, HNSW (M 32, efSearch 64) is faster at recall@10 0.97 (BENCHMARKS.md, bench/faiss_scale.py)
HNSW_LIMIT = 2_000_000  # above this, HNSW's float32 vectors + links (1.7 GB per million at 384-d) give way to IVF-SQ8
COMPRESSED = "SQ8"  # 1 byte per dimension; the measured choice over PQ (recall) in bench/faiss_scale.py
NPROBE = 32


def build_index(vectors: np.ndarray) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) > HNSW_LIMIT:
        return compressed_index(vectors, COMPRESSED)
    if len(vectors) <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    index.add(vectors)
    return index


def compressed_index(vectors: np.ndarray, spec: str, seed: int = 0) -> faiss.Index:
    """IVF over about 4 sqrt(n) lists (an HNSW index over the list centres), vectors stored as `spec`
    ("SQ8": 8 bits per dimension; "PQ<m>": m bytes per vector), trained on a sample of 64 per list."""
    n, dim = vectors.shape
    lists = int(min(65536, max(64, 2 ** round(math.log2(4 * math.sqrt(n))))))
    index = faiss.index_factory(dim, f"IVF{lists}_HNSW32,{spec}", faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).choice(n, size=min(n, 64 * lists), replace=False)
    index.train(vectors[np.sort(sample)])
    for start in range(0, n, 1_000_000):  # add in slices: no second full-size copy
        index.add(vectors[start:start + 1_000_000])
    faiss.extract_index_ivf(index).nprobe = NPROBE
    return index


QUERY_ROWS = 16_384  # queries made and searched a block at a time (the last block takes the remainder): a multiple of 4,096


def query_blocks(n: int) -> list[slice]:
    """Blocks of `QUERY_ROWS` query rows, the remainder joined to the last, for queries made a block at a time rather
    than held all at once. An exact index multiplies the queries by its vectors 4,096 queries at a time, and too few
    queries at once go another way, rounded differently: blocks that start at multiples of 4,096 and are never small
    find what all the queries at once would."""
    starts = (list(range(0, n, QUERY_ROWS)) or [0])[:max(1, n // QUERY_ROWS)]
    return [slice(a, b) for a, b in zip(starts, starts[1:] + [n])]


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, positions) of the k nearest, the query itself included when it is in the index."""
    k = min(k, index.ntotal)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
