"""What a product's text claims, checked against a photo: the claim sources a judge keeps, and their sum.

A claim source is a class in a file of its own, registered in `SOURCES`, with two faces. The fitted source, which the
judge saves and loads:
- `key`: its photo heads' prefix in model.safetensors;
- `names`: one per cost column it adds to the judge, in the weightings' order;
- `saved()`: (its part of config.json, its part of calibration.json); `restore(config, calibration, heads)` and
  `empty_heads(config, inputs)` read them back (None: the model keeps no heads of this source);
- `statements(products)`: what the texts of a catalog's rows state that its claims check (no photo read: the same
  for every round of a training's heads); `on(statements, photo_x, product_folds)`: its claims on those rows, each
  photo read out of fold.
The claims on a catalog (what `on` gives):
- `names`; `costs(text_rows, photo_rows)`: [pairs, len(names)], the cost of each claim of text i against photo j;
  `weighed(text_rows, photo_rows, weights)`: [pairs], those costs weighed (one weight per claim) and summed;
- `softened(temperature)`: the same claims read softer (the exchange weighting is fitted on them);
- `vectors(rows, weights)`: (text, photo, constant) such that the weighted cost of text i with photo j is
  constant_j - text_i . photo_j, so one inner-product search finds the photos that fit a text best;
- `contradictions(rows, weights)`: per row, the claim its own photo contradicts most, in words ("" when none).

`columns.ColumnSource` checks the attribute columns and the title's slots, `words.WordSource` the words of the text
columns.
"""

from __future__ import annotations

import numpy as np

from .columns import ColumnSource
from .words import WordSource

SOURCES = (ColumnSource, WordSource)  # in the order of their cost columns


COST_ROWS = 20_000  # pairs whose costs a part computes at once


class Claims:
    """The claims of every source of a judge on one catalog, side by side: their cost columns in order, and the first
    contradiction found."""

    def __init__(self, parts: list):
        self.parts = [p for p in parts if p.names]

    @property
    def names(self) -> list[str]:
        return [name for part in self.parts for name in part.names]

    def _columns(self) -> list[slice]:
        """Each part's columns among the claims'."""
        bounds = np.cumsum([0] + [len(p.names) for p in self.parts])
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def _split(self, weights: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(weights[columns]) for columns in self._columns()]

    def costs(self, text_rows: np.ndarray, photo_rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """[pairs, claims]: every part's cost columns side by side, written into `out` when given, `COST_ROWS` pairs at a
        time: the weightings' fit reads hundreds of columns for up to 200,000 pairs, and the parts' own arrays beside
        the whole would double it."""
        out = np.empty((len(text_rows), len(self.names))) if out is None else out
        for s in range(0, len(text_rows), COST_ROWS):
            rows = slice(s, s + COST_ROWS)
            for part, columns in zip(self.parts, self._columns()):
                out[rows, columns] = part.costs(text_rows[rows], photo_rows[rows])
        return out

    def weighed(self, text_rows: np.ndarray, photo_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """[pairs]: every claim's cost weighed by `weights` (one per claim) and summed, part by part, `COST_ROWS` pairs at
        a time: `costs(...) @ weights` without the [pairs, claims] array (scoring weighs a catalog's candidate
        exchanges; a text states a few of the hundreds of words its column's claims cover)."""
        out = np.zeros(len(text_rows))
        for s in range(0, len(text_rows), COST_ROWS):
            rows = slice(s, s + COST_ROWS)
            for part, part_weights in zip(self.parts, self._split(weights)):
                out[rows] += part.weighed(text_rows[rows], photo_rows[rows], part_weights)
        return out

    def columns(self, pair_logits: np.ndarray, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """[pairs, 1 + claims]: the pair model's logit of each pair, then each claim's cost, in one array (the costs
        written into it, not copied beside the logits)."""
        out = np.empty((len(text_rows), 1 + len(self.names)))
        out[:, 0] = pair_logits
        self.costs(text_rows, photo_rows, out=out[:, 1:])
        return out

    def softened(self, temperature: float) -> "Claims":
        return self if temperature == 1.0 else Claims([p.softened(temperature) for p in self.parts])

    def vectors(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [p.vectors(rows, w) for p, w in zip(self.parts, self._split(weights))]
        empty = np.zeros((len(rows), 0), dtype=np.float32)
        return (np.hstack([p[0] for p in parts] + [empty]), np.hstack([p[1] for p in parts] + [empty]),
                np.sum([p[2] for p in parts], 0) if parts else np.zeros(len(rows)))

    def contradictions(self, rows: np.ndarray, weights: np.ndarray) -> list[str]:
        """Per row, the first source's contradiction in words (columns before words), "" when none."""
        found = [p.contradictions(rows, w) for p, w in zip(self.parts, self._split(weights))]
        return [next((text for text in texts if text), "") for texts in zip(*found)] if found else [""] * len(rows)
