"""What a product's text claims, checked against a photo: the claim sources and their sum.

A claim source holds, for every product of a catalog, what its text states and how its photo reads (out of fold), and
gives one interface:
- `names`: one per cost column it adds to the judge;
- `costs(text_rows, photo_rows)`: [pairs, len(names)], the cost of each claim of text i against photo j;
- `softened(temperature)`: the same source read softer (the exchange weighting is fitted on it);
- `vectors(rows, weights)`: (text, photo, constant) such that the weighted cost of text i with photo j is
  constant_j - text_i . photo_j, so one inner-product search finds the photos that fit a text best;
- `contradictions(rows, weights, products)`: per row, the claim its own photo contradicts most, in words ("" when none).

`ColumnClaims` reads the catalog's attribute columns, `words.WordClaims` the words of a text column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .attributes import claim_costs, softened


class ColumnClaims:
    """The attribute columns' claims: per column its classes, the class each product's column states (`codes`, -1: none),
    the other value its title names (`also_stated`), and each photo's log-probabilities of every class."""

    def __init__(self, classes: dict[str, list[str]], codes: dict[str, np.ndarray], log_probs: dict[str, np.ndarray],
                 also_stated: dict[str, np.ndarray]):
        self.classes, self.codes, self.log_probs, self.also_stated = classes, codes, log_probs, also_stated

    @property
    def names(self) -> list[str]:
        return list(self.classes)

    def costs(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        return claim_costs(self.log_probs, self.codes, text_rows, photo_rows, self.also_stated)

    def softened(self, temperature: float) -> "ColumnClaims":
        return ColumnClaims(self.classes, self.codes, softened(self.log_probs, temperature), self.also_stated)

    def vectors(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each text's stated values one-hot, each photo's log-probabilities weighed by its column's weight; a title's
        other value (`also_stated`) is left out: the vectors only find candidates, which the whole judge then scores."""
        photo = np.concatenate([weight * self.log_probs[name][rows] for weight, name in zip(weights, self.classes)]
                               + [np.zeros((len(rows), 0))], 1).astype(np.float32)
        text = np.zeros_like(photo)
        offset = 0
        for name in self.classes:
            known = np.flatnonzero(self.codes[name][rows] >= 0)
            text[known, offset + self.codes[name][rows][known]] = 1.0
            offset += self.log_probs[name].shape[1]
        return text, photo, np.zeros(len(rows))

    def contradictions(self, rows: np.ndarray, weights: np.ndarray, products: pd.DataFrame) -> list[str]:
        """Per row, the stated value its photo contradicts most (weighted cost at least 1), quoted as `products` writes
        it; "" where none is contradicted. The costs of every row are computed at once."""
        if not self.classes:
            return [""] * len(rows)
        weighted = self.costs(rows, rows) * weights
        return [self._in_words(int(row), int(row_costs.argmax()), products) if row_costs.max() >= 1.0 else ""
                for row, row_costs in zip(rows, weighted)]

    def contradiction(self, row: int, weights: np.ndarray, products: pd.DataFrame) -> str:
        return self.contradictions(np.array([row]), weights, products)[0]

    def _in_words(self, row: int, k: int, products: pd.DataFrame) -> str:
        name = self.names[k]
        seen = int(self.log_probs[name][row].argmax())
        title_says = self.also_stated[name][row] if name in self.also_stated else -1
        stated = str(products[name].iloc[row]).strip() + (f" (title: {self.classes[name][title_says]})" if title_says >= 0 else "")
        return f"{name}: text says {stated}, photo looks {self.classes[name][seen]} ({np.exp(self.log_probs[name][row, seen]):.0%})"


class Claims:
    """Every claim source of a judge, side by side: their cost columns in order, and the first contradiction found."""

    def __init__(self, sources: list):
        self.sources = [s for s in sources if s.names]

    @property
    def names(self) -> list[str]:
        return [name for source in self.sources for name in source.names]

    def _split(self, weights: np.ndarray) -> list[np.ndarray]:
        bounds = np.cumsum([0] + [len(s.names) for s in self.sources])
        return [np.asarray(weights[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    def costs(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        return np.concatenate([s.costs(text_rows, photo_rows) for s in self.sources] + [np.zeros((len(text_rows), 0))], 1)

    def softened(self, temperature: float) -> "Claims":
        return self if temperature == 1.0 else Claims([s.softened(temperature) for s in self.sources])

    def vectors(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = [s.vectors(rows, w) for s, w in zip(self.sources, self._split(weights))]
        empty = np.zeros((len(rows), 0), dtype=np.float32)
        return (np.hstack([p[0] for p in parts] + [empty]), np.hstack([p[1] for p in parts] + [empty]),
                np.sum([p[2] for p in parts], 0) if parts else np.zeros(len(rows)))

    def contradictions(self, rows: np.ndarray, weights: np.ndarray, products: pd.DataFrame) -> list[str]:
        """Per row, the first source's contradiction in words (columns before words), "" when none."""
        found = [s.contradictions(rows, w, products) for s, w in zip(self.sources, self._split(weights))]
        return [next((text for text in texts if text), "") for texts in zip(*found)] if found else [""] * len(rows)
