"""Claims of the catalog's attribute columns and of its title's slots (`slots`): the value a column states against the
class the photo shows.

`ColumnSource` is the fitted source a judge keeps (per fold, photo heads with one class per value of each column);
`ColumnClaims` is that source on one catalog's rows (`ColumnSource.on`), giving the costs (`claims` says the interface).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..progress import log
from .attributes import AttributeHeads, claim_costs, encode_values, out_of_fold_log_probs, softened, titles_also_state
from .slots import with_slots


class ColumnClaims:
    """The attribute columns' claims: per column its classes, the class each product's column states (`codes`, -1: none),
    the other value its title names (`also_stated`), each photo's log-probabilities of every class, and each product's
    value as its column writes it (`written`, quoted by explanations: a value too rare for a class of its own too)."""

    def __init__(self, classes: dict[str, list[str]], codes: dict[str, np.ndarray], log_probs: dict[str, np.ndarray],
                 also_stated: dict[str, np.ndarray], written: dict[str, np.ndarray] | None = None):
        self.classes, self.codes, self.log_probs, self.also_stated = classes, codes, log_probs, also_stated
        self.written = written if written is not None else {
            name: np.array([classes[name][c] if c >= 0 else "" for c in codes[name]], dtype=object) for name in classes}

    @property
    def names(self) -> list[str]:
        return list(self.classes)

    def costs(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        return claim_costs(self.log_probs, self.codes, text_rows, photo_rows, self.also_stated)

    def weighed(self, text_rows: np.ndarray, photo_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.costs(text_rows, photo_rows) @ weights

    def softened(self, temperature: float) -> "ColumnClaims":
        return ColumnClaims(self.classes, self.codes, softened(self.log_probs, temperature), self.also_stated, self.written)

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

    def contradictions(self, rows: np.ndarray, weights: np.ndarray) -> list[str]:
        """Per row, the stated value its photo contradicts most (weighted cost at least 1), quoted as written; "" where
        none is contradicted. The costs of every row are computed at once."""
        if not self.classes:
            return [""] * len(rows)
        weighted = self.costs(rows, rows) * weights
        return [self._in_words(int(row), int(row_costs.argmax())) if row_costs.max() >= 1.0 else ""
                for row, row_costs in zip(rows, weighted)]

    def _in_words(self, row: int, k: int) -> str:
        name = self.names[k]
        seen = int(self.log_probs[name][row].argmax())
        title_says = self.also_stated[name][row] if name in self.also_stated else -1
        stated = str(self.written[name][row]) + (f" (title: {self.classes[name][title_says]})" if title_says >= 0 else "")
        return f"{name}: text says {stated}, photo looks {self.classes[name][seen]} ({np.exp(self.log_probs[name][row, seen]):.0%})"


class ColumnSource:
    """The column claims a judge keeps: the classes of each attribute column and slot (in the weightings' order), the
    title column whose named values count too, the slots (`slots.with_slots`), and per fold the photo heads."""

    key = "attr"  # the heads' prefix in model.safetensors

    def __init__(self, classes: dict[str, list[str]], title_col: str, slots: dict[str, dict], heads: list[AttributeHeads]):
        self.classes, self.title_col, self.slots, self.heads = classes, title_col, slots, heads

    @property
    def names(self) -> list[str]:
        return list(self.classes)

    def saved(self) -> tuple[dict, dict]:
        """(its part of config.json, its part of calibration.json: the order its cost columns are weighed in)."""
        return {"attributes": self.classes, "title_col": self.title_col, "slots": self.slots}, {"attribute_columns": self.names}

    @staticmethod
    def empty_heads(config: dict, inputs: dict[str, int]) -> AttributeHeads:
        """Heads shaped as the saved ones, to load their weights into."""
        return AttributeHeads(inputs, {a: len(c) for a, c in config.get("attributes", {}).items()}, config["dims"])

    @classmethod
    def restore(cls, config: dict, calibration: dict, heads: list[AttributeHeads]) -> "ColumnSource":
        attributes = config.get("attributes", {})  # config.json lists them sorted; the weights follow calibration's order
        return cls({a: attributes[a] for a in calibration["attribute_columns"]}, config.get("title_col", ""), config.get("slots", {}), heads)

    def statements(self, products: pd.DataFrame) -> dict:
        """What the texts of `products` (catalog rows) state of each column: its class per row, the other value the
        title names (`titles_also_state`), and the value as written. No photo is read: a training's every round of
        heads checks the same statements."""
        products = with_slots(products, self.slots)
        missing = [a for a in self.classes if a not in products.columns]
        if missing:
            log.warning("catalog has no column(s) %s: those claims are not checked", missing)
        blank = pd.Series([""] * len(products), index=products.index)
        values = {a: products[a] if a in products.columns else blank for a in self.classes}
        codes = {a: encode_values(values[a], classes)[0] for a, classes in self.classes.items()}
        titles = products[self.title_col] if self.title_col in products.columns else None
        return {"codes": codes, "also_stated": titles_also_state(titles, codes, self.classes),
                "written": {a: values[a].astype(str).str.strip().to_numpy(dtype=object) for a in self.classes}}

    def on(self, statements: dict, photo_x: dict[str, np.ndarray], product_folds: np.ndarray) -> list[ColumnClaims]:
        """The claims of `statements` (of catalog rows), each row's photo read by the heads of the fold that held it out."""
        log_probs = out_of_fold_log_probs(self.heads, product_folds, photo_x)
        return [ColumnClaims(self.classes, statements["codes"], log_probs, statements["also_stated"], statements["written"])]
