"""The judge: out-of-fold mismatch logits of any text with any photo of a catalog, from a saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import store
from .attributes import encode_values, out_of_fold_log_probs, photo_inputs, titles_also_state
from .claims import Claims, ColumnClaims
from .slots import with_slots
from .words import WordClaims, stated_words
from ..progress import log


class Judge:
    """Out-of-fold mismatch logits m(text of i, photo of j) for catalog rows: the pair model's logit and the cost of each
    claim the text makes (`Claims`: its attribute columns and its title's slots, the words of its text columns), weighed as `train` stacked
    them: the exchange weighting (fitted on every kind of pair) tells a photo from its look-alikes', the fit weighting
    (positives vs random negatives) says whether a photo belongs to a text at all."""

    def __init__(self, saved: store.SavedModel, feats: dict, products: pd.DataFrame, device: torch.device, batch: int):
        self.models = [m.to(device) for m in saved.fold_models]
        self.prepared = [m.prepare(feats) for m in self.models]
        self.device = device
        self.fold = np.array([saved.folds.get(pid, -1) for pid in products.product_id])
        self.batch = batch
        cal = saved.calibration
        self.weighting = {"exchange": (np.array(cal["weights"]), float(cal["bias"])), "fit": (np.array(cal["fit_weights"]), float(cal["fit_bias"]))}
        self.slots = saved.config.get("slots", {})
        products = with_slots(products, self.slots)
        photo_x = photo_inputs(feats)
        self.claims = Claims([self.column_claims(saved, photo_x, products), *self.word_claims(saved, photo_x, products)])

    def column_claims(self, saved: store.SavedModel, photo_x: dict, products: pd.DataFrame) -> ColumnClaims:
        attributes = saved.config.get("attributes", {})  # config.json lists them sorted; the weights follow `train`'s order
        classes = {a: attributes[a] for a in saved.calibration["attribute_columns"]}
        missing = [a for a in classes if a not in products.columns]
        if missing:
            log.warning("catalog has no column(s) %s: those claims are not checked", missing)
        codes = {a: encode_values(products[a], values)[0] if a in products.columns else np.full(len(products), -1)
                 for a, values in classes.items()}
        title_col = saved.config.get("title_col", "")
        also_stated = titles_also_state(products[title_col] if title_col in products.columns else None, codes, classes)
        return ColumnClaims(classes, codes, out_of_fold_log_probs(saved.heads, self.fold, photo_x), also_stated)

    def word_claims(self, saved: store.SavedModel, photo_x: dict, products: pd.DataFrame) -> list[WordClaims]:
        vocabularies = saved.config.get("words", {})  # config.json lists them sorted; the weights follow `train`'s order
        words = {c: vocabularies[c] for c in saved.calibration["word_columns"]}
        missing = [c for c in words if c not in products.columns]
        if missing:
            log.warning("catalog has no text column(s) %s: the words they state are not checked", missing)
        log_probs = out_of_fold_log_probs(saved.word_heads, self.fold, photo_x) if words else {}
        return [WordClaims(c, vocabulary, stated_words(products[c] if c in products.columns else pd.Series([""] * len(products)), vocabulary),
                           log_probs[c]) for c, vocabulary in words.items()]

    def to(self, device: torch.device) -> "Judge":
        """The same judge on another device (a Ray actor given a GPU): what it prepared is moved, not redone,
        so every logit comes from one preparation (a neighbour search redone elsewhere can break ties otherwise)."""
        if device != self.device:
            move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
            self.models = [m.to(device) for m in self.models]
            self.prepared = [{k: move(v) for k, v in p.items()} for p in self.prepared]
            self.device = device
        return self

    def columns(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """[pairs, 1 + claims]: the pair model's logit and the cost of each claim."""
        return np.column_stack([self.pair_model_logits(text_rows, photo_rows), self.claims.costs(text_rows, photo_rows)])

    def weigh(self, columns: np.ndarray, weighting: str = "exchange") -> np.ndarray:
        weights, bias = self.weighting[weighting]
        return columns @ weights + bias

    def logits(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """Mismatch logits in the exchange weighting."""
        return self.weigh(self.columns(text_rows, photo_rows))

    def exchange_vectors(self, rows: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(queries, keys) of `rows` whose inner product q_i . k_j is the claims' part of the gain of exchanging i and j,
        less what depends on i alone (own: every row's own logit). With the claims' cost of text i with photo j written as
        c_j - t_i . p_j (`Claims.vectors`): q_i = [t_i, p_i, 1], k_j = [p_j, t_j, own_j - 2 bias - c_j]. The pair model's
        part is left out: this only finds candidates, which the whole judge then scores."""
        weights, bias = self.weighting["exchange"][0][1:], self.weighting["exchange"][1]
        text, photo, constant = self.claims.vectors(rows, weights)
        ones = np.ones((len(rows), 1), dtype=np.float32)
        return np.hstack([text, photo, ones]), np.hstack([photo, text, (own[rows] - 2 * bias - constant)[:, None].astype(np.float32)])

    def contradictions(self, rows: np.ndarray, products: pd.DataFrame) -> list[str]:
        """For each row, the claim its own photo contradicts most, in words ("" when none does); a column's value is
        quoted as `products` (the rows this judge was built on) writes it, even one too rare for a class of its own."""
        return self.claims.contradictions(rows, self.weighting["fit"][0][1:], with_slots(products, self.slots))

    @torch.no_grad()
    def pair_model_logits(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """Each text is judged by its product's held-out model (all models averaged for a product none held out)."""
        out = np.zeros(len(text_rows))
        folds = self.fold[text_rows]
        for f, (model, prepared) in enumerate(zip(self.models, self.prepared)):
            chosen = np.flatnonzero((folds == f) | (folds < 0))
            weight = np.where(folds[chosen] < 0, 1.0 / len(self.models), 1.0)
            for s in range(0, len(chosen), self.batch):
                idx = chosen[s:s + self.batch]
                values = model.pair_logits(prepared, torch.from_numpy(text_rows[idx]), torch.from_numpy(photo_rows[idx]))
                out[idx] += weight[s:s + self.batch] * values.float().cpu().numpy()
        return out
