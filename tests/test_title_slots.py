"""Slots mined from the titles: words that replace one another in otherwise equal titles, checked as columns are."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from mmaudit.models.slots import mine_slots, repeating_columns, slot_name, slot_values, with_slots

# an invented language, so that nothing can come from a word list
BRANDS = ["zorba", "quelt", "miravo", "tenku", "olbar"]
GENDERS = ["vor", "dalim"]
COLOURS = ["ruka", "belo", "tsarn", "zelo", "modri", "sivo"]
KINDS = ["kapa", "hlaca", "cizma", "torba"]


def catalog_titles(seed: int = 0) -> pd.Series:
    """Titles built from parts, with a free word now and then and a model number in every one."""
    rng = np.random.default_rng(seed)
    titles = []
    for number, (brand, gender, colour, kind) in enumerate(itertools.product(BRANDS, GENDERS, COLOURS, KINDS)):
        extra = " nova" if rng.random() < 0.3 else ""
        titles.append(f"{brand.title()} {gender.title()}{extra} {colour.title()} {kind.title()} X{number:04d}")
    return pd.Series(titles)


def test_the_slots_are_the_parts_titles_are_built_from():
    slots = [set(words) for words in mine_slots(catalog_titles())]
    assert set(COLOURS) in slots and set(KINDS) in slots and set(BRANDS) in slots
    assert not any({"nova"} & words or any(w.startswith("x0") for w in words) for words in slots)  # free words, model numbers
    assert set(GENDERS) not in slots  # two words are too few for a slot


def test_words_that_share_titles_still_join_a_slot_through_the_others():
    titles = pd.Series([f"{colour} {kind} item{k}" for colour in ["navy blue", "navy", "blue", "black", "white", "red"]
                        for kind in KINDS for k in range(3)])
    colours = next(set(words) for words in mine_slots(titles) if "black" in words)
    assert {"navy", "blue", "black", "white", "red"} == colours


def test_a_title_s_value_is_its_slot_words_in_order():
    words = ["black", "blue", "navy", "white"]
    values = slot_values(pd.Series(["Nike Navy Blue Shoes", "White & Black Tee", "Red Cap", None]), words)
    assert values.tolist() == ["navy blue", "white black", "", ""]
    name = slot_name("title", words)
    assert name == "title words like black, blue, navy"
    products = pd.DataFrame({"title": ["Navy Blue Shoes", "Red Cap"]})
    assert with_slots(products, {name: {"column": "title", "words": words}})[name].tolist() == ["navy blue", ""]
    assert with_slots(products.drop(columns="title"), {name: {"column": "title", "words": words}})[name].tolist() == ["", ""]


def test_a_slot_that_repeats_an_attribute_column_is_left_out():
    words = ["black", "blue", "navy", "white"]
    products = pd.DataFrame({"title": ["Navy Blue Shoes", "White Tee", "Black Cap", "Blue Bag", "Plain Mug"],
                             "colour": ["Navy Blue", "White", "Black", "Green", ""],  # one disagreement in four: 75%
                             "kind": ["Shoes", "Tee", "Cap", "Bag", "Mug"]})
    slot = {slot_name("title", words): {"column": "title", "words": words}}
    assert repeating_columns(products, slot, ["kind"]) == {}
    assert repeating_columns(products, slot, ["kind", "colour"]) == {}  # below SAME_AS_COLUMN
    products.loc[3, "colour"] = "blue"
    assert repeating_columns(products, slot, ["kind", "colour"]) == {slot_name("title", words): "colour"}
