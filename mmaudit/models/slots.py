"""Slots: the attributes a catalog writes into its titles, mined from the titles themselves.

Titles are built from parts, "Arrow Men Stripes White Shirts" beside "Arrow Men Stripes Blue Shirts": where two
titles are the same but for one word (words in fewer than `words.MIN_PRODUCTS` titles, such as model numbers, left
out), the two words fill the same slot (a colour, a gender, a product type, a brand).
Two words that replace one another in enough different titles and rarely appear in one title together fill the same
slot; the words so linked, directly or through others, form a slot when they are at least `MIN_SLOT_WORDS` ("navy"
and "blue" share titles, "navy blue", yet each replaces "black"). A title's value
in a slot is the slot's words it contains, in order ("navy blue"), and the slot is checked as an attribute column is:
photo heads with one class per value (`AttributeHeads`, cross-fitted), a cost per slot, a weight per slot, and an
explanation that quotes the value ("title words like black, blue, white: text says grey, photo looks blue (56%)").

A slot's values exclude one another, as a column's do, which single words checked one by one (`words.WordClaims`)
cannot say: a photo that looks blue says the title's "white" is wrong even where white is a word photos rarely show.
No word list and no language is assumed: only the catalog's own titles (docs/decisions/2026-12-02-title-slots.md).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

import numpy as np
import pandas as pd

from .words import MIN_PRODUCTS, words_of

MINING_TITLES = 100_000  # titles read to find the slots (a seeded sample beyond): a slot's words recur across a catalog
MIN_CONTEXTS = 3  # titles-but-for-one-word contexts two words must share to fill the same slot
MAX_FILLERS = 30  # a context filled by more words than this is a free-text position, not an attribute's
MAX_TOGETHER = 0.05  # two words that replace one another are in one title at most this share of the rarer one's titles
MIN_SLOT_WORDS = 3  # a group of fewer words is a pair of spellings more often than an attribute
NAMED_BY = 3  # a slot is named by its most frequent words
SAME_AS_COLUMN = 0.8  # a slot whose value is an attribute column's own (as the title writes it) in this share of the
# products that fill both repeats that column: it is left out, so the claim is not counted twice


def mine_slots(titles: pd.Series, seed: int = 0) -> list[list[str]]:
    """The slots of a catalog's titles, each a list of words, most frequent first; slots covering most titles first."""
    titles = titles.fillna("").astype(str)
    if len(titles) > MINING_TITLES:
        titles = titles.sample(MINING_TITLES, random_state=seed)
    tokens = [words_of(t) for t in titles]
    counts = Counter(w for words in tokens for w in words)
    tokens = [[w for w in words if counts[w] >= MIN_PRODUCTS] for words in tokens]  # a model number is no slot's value
    contexts: dict[int, set[str]] = defaultdict(set)
    for words in tokens:
        for p in range(len(words)):
            contexts[hash((tuple(words[:p]), tuple(words[p + 1:])))].add(words[p])
    shared = Counter(pair for fillers in contexts.values() if 1 < len(fillers) <= MAX_FILLERS
                     for pair in itertools.combinations(sorted(fillers), 2))
    titles_of: dict[str, set[int]] = defaultdict(set)
    for i, words in enumerate(tokens):
        for w in words:
            titles_of[w].add(i)
    parent: dict[str, str] = {}

    def root(w: str) -> str:
        while parent.setdefault(w, w) != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    for (a, b), count in shared.items():
        if count >= MIN_CONTEXTS and len(titles_of[a] & titles_of[b]) <= MAX_TOGETHER * min(len(titles_of[a]), len(titles_of[b])):
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = defaultdict(list)
    for w in list(parent):
        groups[root(w)].append(w)
    slots = [sorted(words, key=lambda w: (-len(titles_of[w]), w)) for words in groups.values() if len(words) >= MIN_SLOT_WORDS]
    covered = lambda words: len(set().union(*(titles_of[w] for w in words)))  # noqa: E731
    return sorted(slots, key=lambda words: (-covered(words), words[0]))


def slot_name(column: str, words: list[str]) -> str:
    """How a slot is named in the model and in explanations: its column and most frequent words."""
    return f"{column} words like {', '.join(words[:NAMED_BY])}"


def slot_values(titles: pd.Series, words: list[str]) -> pd.Series:
    """Each title's value in a slot: the slot's words it contains, in its order ("" where it has none)."""
    members = set(words)
    return pd.Series([" ".join(w for w in words_of(t) if w in members) for t in titles.fillna("").astype(str)],
                     index=titles.index, dtype=object)


def with_slots(products: pd.DataFrame, slots: dict[str, dict]) -> pd.DataFrame:
    """`products` with a column per slot (name -> {"column": the text column, "words": its words}) holding its values;
    a slot whose text column the catalog lacks gets none."""
    derived = {name: slot_values(products[slot["column"]], slot["words"]) if slot["column"] in products.columns
               else pd.Series([""] * len(products), index=products.index) for name, slot in slots.items()}
    return products.assign(**derived) if derived else products


def slots_of(products: pd.DataFrame, column: str) -> dict[str, dict]:
    """The slots mined from a text column of `products`, by name (`slot_name`)."""
    return {slot_name(column, words): {"column": column, "words": words} for words in mine_slots(products[column])} if column else {}


def repeating_columns(products: pd.DataFrame, slots: dict[str, dict], columns: list[str]) -> dict[str, str]:
    """Slot name -> the attribute column it repeats (its value is the column's, any case, in `SAME_AS_COLUMN` of the
    products that fill both): a catalog with a colour column and colours in its titles checks the colour once."""
    repeats = {}
    for name, slot in slots.items():
        values = products[name] if name in products.columns else slot_values(products[slot["column"]], slot["words"])
        for column in columns:
            stated = products[column].astype(str).str.strip().str.casefold()
            both = (values != "") & (stated != "") & (stated != "nan")
            if both.any() and (values[both] == stated[both]).mean() >= SAME_AS_COLUMN:
                repeats[name] = column
                break
    return repeats


def coverage(products: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """Share of products whose title fills each slot (for the training log and metrics)."""
    return {name: float(np.mean(products[name].astype(str) != "")) for name in names}
