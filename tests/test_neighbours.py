"""Nearest-neighbour search: queries searched a block at a time (`query_blocks`) find what all at once finds."""

from __future__ import annotations

import numpy as np

from mmaudit import neighbours
from mmaudit.neighbours import build_index, query_blocks, search


def test_query_blocks_cover_every_row_once_and_start_on_whole_blocks(monkeypatch):
    monkeypatch.setattr(neighbours, "QUERY_ROWS", 8)
    for n in (0, 1, 7, 8, 9, 15, 16, 17, 41):
        blocks = query_blocks(n)
        assert np.array_equal(np.concatenate([np.arange(n)[b] for b in blocks]), np.arange(n))
        assert all(b.start % 8 == 0 for b in blocks)
        assert len(blocks) == 1 or all(b.stop - b.start >= 8 for b in blocks)  # no small remainder searched alone


def test_search_in_blocks_finds_the_same_neighbours_and_similarities_as_at_once(monkeypatch):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = (vectors[rng.integers(0, 3000, 10_000)] + rng.normal(0, 0.1, (10_000, 48))).astype(np.float16)
    index = build_index(vectors)
    at_once = index.search(queries.astype(np.float32), 6)  # FAISS's matrix product: enough queries x dimensions
    monkeypatch.setattr(neighbours, "QUERY_ROWS", 4096)  # blocks of 4,096 and 5,904 rows
    blocks = [search(index, queries[rows], 6) for rows in query_blocks(len(queries))]
    assert len(blocks) == 2
    assert np.array_equal(np.concatenate([b[0] for b in blocks]), at_once[0])
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), at_once[1])
