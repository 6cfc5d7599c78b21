"""Claims read from the text: the words of a text column that a photo can confirm or contradict.

Most catalogs write their claims into the title and description ("Navy Blue Striped Polo T-shirt") whether or not they
keep clean attribute columns. Each text column's frequent words are candidate claims; photo heads (`AttributeHeads`
with one yes/no output per word) learn on the other folds' products which words a product's text states, and a word
stays a claim only where those heads predict it out of fold (ROC-AUC at least `MIN_WORD_AUC`): words a photo shows
(colours, product types, patterns, "women") stay, words it cannot show ("gift", "offer", "new") get no weight. The
catalog may be in any language: a word is a run of letters and digits that starts with a letter.

Each kept word is one claim with a cost column of its own: for a pair, minus the word's log-odds, log p/(1 - p), as the
photo reads it, where the text states the word, else 0. The judge's weightings then give each word its own weight, as
they give each attribute column one: a colour that tells look-alikes apart can weigh more than a product type the pair
model already reads, and a word the photo predicts without contradicting anything ("of" in a brand's name) can get no
weight. One weight shared by all of a column's words, measured before, was held down by the words the pair model already
reads (docs/decisions/2026-12-01-one-weight-per-word.md).

With equal weights, the costs sum to the Bernoulli log-loss of the text's words under the photo's reading (over the kept
words it states, -log p(word | photo); over those it does not, -log (1 - p(word | photo))) less the part that depends
on the photo alone (-sum of log (1 - p) over every kept word). A photo that looks like a backpack still contradicts a
text that never says backpack, through the exchange: in an exchange's gain the photo's part cancels. Left in, the
photo's part is noise to the weighting fitted on pairs (a photo that seems to show many words costs every text more).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..progress import log
from .attributes import AttributeHeads, out_of_fold_log_probs, softened

WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
MIN_PRODUCTS = 5  # a word in fewer products' texts teaches a photo head nothing
MAX_SHARE = 0.9  # a word in nearly every text separates no photo from another
MIN_WORD_AUC = 0.75  # out of fold, how well the photo must predict a word for the word to count as a claim
MEMBERS = 1  # word heads per view and fold: one network of hundreds of outputs costs as much as the attribute heads' three


def words_of(text: str) -> list[str]:
    """The distinct words of a text, lower-cased, in order; one-letter words are left out."""
    found = (w.strip("'’-").casefold() for w in WORD.findall(str(text)))
    return list(dict.fromkeys(w for w in found if len(w) > 1))


def mine_vocabulary(texts: pd.Series, max_words: int) -> list[str]:
    """The `max_words` words found in most texts, among those in at least `MIN_PRODUCTS` and at most `MAX_SHARE` of them."""
    counts = Counter(w for text in texts.fillna("").astype(str) for w in words_of(text))
    usable = [(c, w) for w, c in counts.items() if MIN_PRODUCTS <= c <= MAX_SHARE * len(texts)]
    return [w for _, w in sorted(usable, key=lambda cw: (-cw[0], cw[1]))[:max_words]]


def stated_words(texts: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """[texts, most words stated]: the vocabulary positions each text states, -1 pads."""
    index = {w: k for k, w in enumerate(vocabulary)}
    rows = [[index[w] for w in words_of(text) if w in index] for text in texts.fillna("").astype(str)]
    out = np.full((len(rows), max([len(r) for r in rows] + [1])), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def word_labels(stated: np.ndarray, size: int) -> np.ndarray:
    """[texts, size] 1 where the text states the word, else 0 (the heads' training labels). One byte each: a catalog's
    labels are [products, words] per text column, and the heads' training holds a padded copy per fold and view."""
    out = np.zeros((len(stated), size), dtype=np.int8)
    rows, slots = np.nonzero(stated >= 0)
    out[rows, stated[rows, slots]] = 1
    return out


def reindexed(stated: np.ndarray, kept: np.ndarray, size: int) -> np.ndarray:
    """`stated` over a vocabulary cut to the positions `kept` (words no longer in it are dropped)."""
    new = np.full(size + 1, -1, dtype=np.int64)
    new[kept] = np.arange(len(kept))
    moved = np.where(stated >= 0, new[stated.clip(0)], -1)
    order = np.argsort(moved < 0, axis=1, kind="stable")  # the words kept first, then the padding
    out = np.take_along_axis(moved, order, 1)
    return out[:, :max(int((out >= 0).sum(1).max(initial=0)), 1)]


def roc_auc_per_label(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column of `scores` for the 0/1 column of `labels` beside it (0.5 where a column has one class)."""
    ranks = pd.DataFrame(scores).rank(axis=0).to_numpy()
    positives = labels.sum(0).astype(np.float64)
    negatives = len(labels) - positives
    rank_sum = (ranks * labels).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, 0.5)


def predictable(labels: np.ndarray, log_probs: np.ndarray, min_auc: float = MIN_WORD_AUC) -> np.ndarray:
    """Positions of the words the photo heads predict out of fold (`log_probs`: [texts, words, 2]) at `min_auc` or better."""
    return np.flatnonzero(roc_auc_per_label(labels, log_probs[..., 1]) >= min_auc)


def claim_names(column: str, vocabulary: list[str]) -> list[str]:
    """The names of a text column's word claims, one per word, as the weightings and calibration.json list them."""
    return [f"{column}: {word}" for word in vocabulary]


@dataclass
class WordClaims:
    """One text column's claims, as every product's photo reads them: `log_probs` [products, words, 2] (no, yes),
    `stated` [products, most words] (vocabulary positions, -1 pads). The log-odds of a word and its lift (the log-odds
    above how often photos show the word) are computed where read: whole [products, words] arrays of them, held for
    the claims and again for their softer reading while the weightings are fitted, would grow with the catalog."""

    column: str
    vocabulary: list[str]
    stated: np.ndarray
    log_probs: np.ndarray
    prior: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        share = np.exp(self.log_probs[..., 1]).mean(0).clip(1e-6, 1 - 1e-6)  # how often the photos show each word
        self.prior = np.log(share / (1 - share))

    def log_odds(self, photo_rows, words=slice(None)) -> np.ndarray:
        """log p(yes) - log p(no) of `words` as the photos of `photo_rows` read them (indexed as `log_probs`)."""
        read = self.log_probs[photo_rows, words]
        return read[..., 1] - read[..., 0]

    def lift(self, photo_row: int, words: np.ndarray) -> np.ndarray:
        """The log-odds of `words` as one photo reads them, above their prior (how often photos show them)."""
        return self.log_odds(photo_row, words) - self.prior[words]

    @property
    def names(self) -> list[str]:
        return claim_names(self.column, self.vocabulary)

    def costs(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """[pairs, words]: where text i states a word, minus the word's log-odds as photo j reads it; else 0."""
        words = self.stated[text_rows]
        pairs, slots = np.nonzero(words >= 0)
        out = np.zeros((len(text_rows), len(self.vocabulary)))
        out[pairs, words[pairs, slots]] = -self.log_odds(photo_rows[pairs], words[pairs, slots])
        return out

    def weighed(self, text_rows: np.ndarray, photo_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """[pairs]: `costs(...) @ weights` from the words each text states alone, not the [pairs, words] costs."""
        words = self.stated[text_rows]
        known = words >= 0
        words = np.where(known, words, 0)
        return -(self.log_odds(photo_rows[:, None], words) * np.where(known, np.asarray(weights)[words], 0.0)).sum(1)

    def softened(self, temperature: float) -> "WordClaims":
        return WordClaims(self.column, self.vocabulary, self.stated, softened({"words": self.log_probs}, temperature)["words"])

    def vectors(self, rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, photo, photo constant) of `rows`, such that the weighted cost of text i with photo j is
        constant_j - text_i . photo_j (`weights`: one per word): the text's words one-hot, the photo's weighted log-odds."""
        text = word_labels(self.stated[rows], len(self.vocabulary)).astype(np.float32)
        return text, (np.asarray(weights)[None, :] * self.log_odds(rows)).astype(np.float32), np.zeros(len(rows))

    def contradictions(self, rows: np.ndarray, weights: np.ndarray) -> list[str]:
        return [self.contradiction(int(row), weights) for row in rows]

    def contradiction(self, row: int, weights: np.ndarray, unlikely: float = 0.2) -> str:
        """Among the stated words the judge weighs (`weights`: one per word) and its own photo makes unlikely (under
        `unlikely`), the one whose weighted cost is largest against how often photos show it; then, among the weighed
        words it does not state, the one the photo shows (at least 50%) most above how often photos show it:
        'title says "black" (photo 4%), photo looks like "blue" (82%)'. "" when no weighed stated word is unlikely."""
        weights = np.asarray(weights)
        words = self.stated[row][self.stated[row] >= 0]
        yes = np.exp(self.log_probs[row, :, 1])
        doubtful = words[(yes[words] < unlikely) & (weights[words] > 0)]
        if len(doubtful) == 0:
            return ""
        weakest = int(doubtful[(-weights[doubtful] * self.lift(row, doubtful)).argmax()])
        said = f'{self.column} says "{self.vocabulary[weakest]}" (photo {yes[weakest]:.0%})'
        shown = np.setdiff1d(np.flatnonzero((yes >= 0.5) & (weights > 0)), words)
        if len(shown) == 0:
            return said
        best = int(shown[(weights[shown] * self.lift(row, shown)).argmax()])
        return said + f', photo looks like "{self.vocabulary[best]}" ({yes[best]:.0%})'


class WordSource:
    """The word claims a judge keeps: per text column its kept words (in the weightings' order), and per fold the photo
    heads with one yes/no output per word."""

    key = "words"  # the heads' prefix in model.safetensors

    def __init__(self, vocabularies: dict[str, list[str]], heads: list[AttributeHeads]):
        self.vocabularies, self.heads = vocabularies, heads

    @property
    def names(self) -> list[str]:
        return [name for column, vocabulary in self.vocabularies.items() for name in claim_names(column, vocabulary)]

    def saved(self) -> tuple[dict, dict]:
        """(its part of config.json, its part of calibration.json: the order its cost columns are weighed in)."""
        return {"words": self.vocabularies}, {"word_columns": list(self.vocabularies)}

    @staticmethod
    def empty_heads(config: dict, inputs: dict[str, int]) -> AttributeHeads | None:
        """Heads shaped as the saved ones, to load their weights into (None: the model keeps no words)."""
        words = config.get("words", {})
        return AttributeHeads(inputs, {c: len(v) for c, v in words.items()}, config["dims"], frozenset(words), MEMBERS) if words else None

    @classmethod
    def restore(cls, config: dict, calibration: dict, heads: list[AttributeHeads]) -> "WordSource":
        vocabularies = config.get("words", {})  # config.json lists them sorted; the weights follow calibration's order
        return cls({c: vocabularies[c] for c in calibration.get("word_columns", [])}, heads)

    def statements(self, products: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per text column, the words of the vocabulary each of `products` (catalog rows) states (`stated_words`). No
        photo is read: a training's every round of heads checks the same statements."""
        missing = [c for c in self.vocabularies if c not in products.columns]
        if missing:
            log.warning("catalog has no text column(s) %s: the words they state are not checked", missing)
        blank = pd.Series([""] * len(products), index=products.index)
        return {c: stated_words(products[c] if c in products.columns else blank, vocabulary) for c, vocabulary in self.vocabularies.items()}

    def on(self, statements: dict[str, np.ndarray], photo_x: dict[str, np.ndarray], product_folds: np.ndarray) -> list[WordClaims]:
        """The claims of `statements` (of catalog rows), each row's photo read by the heads of the fold that held it out."""
        log_probs = out_of_fold_log_probs(self.heads, product_folds, photo_x) if self.vocabularies else {}
        return [WordClaims(c, vocabulary, statements[c], log_probs[c]) for c, vocabulary in self.vocabularies.items()]
