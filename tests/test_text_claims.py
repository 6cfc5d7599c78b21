"""Claims read from the text: words a photo can confirm or contradict, mined from the catalog, checked out of fold."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from mmaudit.demo import make_catalog
from mmaudit.metrics import average_precision
from mmaudit.models.claims import Claims
from mmaudit.models.columns import ColumnClaims
from mmaudit.models.words import (WordClaims, mine_vocabulary, predictable, reindexed, roc_auc_per_label, stated_words, word_labels,
                                  words_of)

from mmaudit.train import exchange_weighting

from .conftest import TINY, invoke


def test_words_are_any_script_lower_cased_and_distinct():
    assert words_of("Navy-Blue Striped POLO T-shirt, navy blue") == ["navy-blue", "striped", "polo", "t-shirt", "navy", "blue"]
    assert words_of("Сумка чёрная 2 шт. x") == ["сумка", "чёрная", "шт"]  # a digit alone or one letter is no word
    assert words_of("") == []


def test_the_vocabulary_keeps_words_in_enough_texts_but_not_in_nearly_all():
    texts = pd.Series(["red bag shop"] * 6 + ["blue bag shop"] * 5 + ["green shop"] * 4)
    assert mine_vocabulary(texts, 10) == ["bag", "red", "blue"]  # shop: in every text; green: in too few
    assert mine_vocabulary(texts, 1) == ["bag"]


def test_stated_words_reindex_to_a_cut_vocabulary():
    stated = stated_words(pd.Series(["red bag", "blue", "", "bag blue red"]), ["bag", "red", "blue"])
    np.testing.assert_array_equal(word_labels(stated, 3), [[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1]])
    cut = reindexed(stated, np.array([0, 2]), 3)  # red is dropped: bag -> 0, blue -> 1
    np.testing.assert_array_equal(word_labels(cut, 2), [[1, 0], [0, 1], [0, 0], [1, 1]])


def test_a_word_the_photo_cannot_predict_gets_no_weight():
    rng = np.random.default_rng(0)
    shows = rng.random(500) < 0.3
    labels = np.column_stack([shows, rng.random(500) < 0.3]).astype(np.int64)  # word 0 follows the photo, word 1 ("gift") does not
    p_yes = np.column_stack([np.where(shows, 0.8, 0.1), np.full(500, 0.3) + rng.normal(0, 0.01, 500)])
    log_probs = np.log(np.stack([1 - p_yes, p_yes], -1))
    auc = roc_auc_per_label(labels, log_probs[..., 1])
    assert auc[0] == pytest.approx(1.0) and abs(auc[1] - 0.5) < 0.1
    np.testing.assert_array_equal(predictable(labels, log_probs), [0])


def _claims(seed: int = 0, products: int = 9, words: int = 5) -> WordClaims:
    rng = np.random.default_rng(seed)
    p_yes = rng.uniform(0.02, 0.98, (products, words))
    stated = stated_words(pd.Series([" ".join(f"w{k}" for k in range(words) if rng.random() < 0.4) for _ in range(products)]),
                          [f"w{k}" for k in range(words)])
    return WordClaims("title", [f"w{k}" for k in range(words)], stated, np.log(np.stack([1 - p_yes, p_yes], -1)).astype(np.float32))


def test_the_word_costs_add_up_to_the_bernoulli_loss_less_the_photos_own_part():
    claims = _claims()
    labels = word_labels(claims.stated, 5)
    p_yes = np.exp(claims.log_probs[..., 1].astype(np.float64))
    text, photo = np.repeat(np.arange(9), 9), np.tile(np.arange(9), 9)
    expected_stated = -(labels[text] * np.log(p_yes[photo])).sum(1)
    expected_unstated = -((1 - labels[text]) * np.log(1 - p_yes[photo])).sum(1)
    photo_part = -np.log(1 - p_yes).sum(1)[photo]  # the same for every text: it cancels in an exchange's gain
    costs = claims.costs(text, photo)
    assert costs.shape == (81, 5) and claims.names == [f"title: w{k}" for k in range(5)]
    assert (costs[labels[text] == 0] == 0).all()  # a word the text does not state costs nothing on its own column
    np.testing.assert_allclose(costs.sum(1), expected_stated + expected_unstated - photo_part, rtol=1e-4, atol=1e-6)


def test_the_claims_vectors_give_every_weighted_cost():
    """cost of text i with photo j, weighted, = constant_j - text_i . photo_j: the inner-product searches rely on it."""
    words = _claims()
    rng = np.random.default_rng(1)
    colour = rng.dirichlet(np.ones(4), 9)
    columns = ColumnClaims({"colour": list("abcd")}, {"colour": np.array([0, 1, 2, 3, -1, 0, 1, 2, 3])},
                           {"colour": np.log(colour).astype(np.float32)}, {})
    claims = Claims([columns, words])
    weights = np.array([0.7, 0.4, 0.0, 1.3, 0.2, 0.9])  # the colour column, then one per word
    rows = np.arange(9)
    text, photo, constant = claims.vectors(rows, weights)
    i, j = np.repeat(rows, 9), np.tile(rows, 9)
    np.testing.assert_allclose(constant[j] - (text[i] * photo[j]).sum(1), claims.costs(i, j) @ weights, rtol=1e-4, atol=1e-4)


def test_the_word_claims_hold_one_array_per_product_and_word_their_readings():
    """Every photo's log-odds of each word, and their lift, are computed where read: the claims (and their softer
    reading, beside them while the weightings are fitted) hold no other [products, words] array, which would grow
    with the catalog; the costs and vectors are the readings' log-odds."""
    claims = _claims(products=12, words=5)
    whole = [name for name, value in vars(claims).items() if isinstance(value, np.ndarray) and value.shape[:2] == (12, 5)]
    assert whole == ["log_probs"]
    log_odds = claims.log_probs[..., 1] - claims.log_probs[..., 0]
    text, photo = np.repeat(np.arange(12), 12), np.tile(np.arange(12), 12)
    stated = word_labels(claims.stated, 5)[text].astype(bool)
    np.testing.assert_array_equal(claims.costs(text, photo), np.where(stated, -log_odds[photo], 0.0))
    np.testing.assert_array_equal(claims.vectors(np.arange(12), np.ones(5))[1], log_odds)
    np.testing.assert_array_equal(claims.softened(2.0).prior.shape, (5,))


def test_the_explanation_names_the_word_and_what_the_photo_shows():
    p_yes = np.array([[0.03, 0.9, 0.1]])
    claims = WordClaims("title", ["black", "blue", "bag"], stated_words(pd.Series(["Black bag"]), ["black", "blue", "bag"]),
                        np.log(np.stack([1 - p_yes, p_yes], -1)))
    assert claims.contradiction(0, np.ones(3)) == 'title says "black" (photo 3%), photo looks like "blue" (90%)'
    assert claims.contradiction(0, np.array([1.0, 0.0, 1.0])) == 'title says "black" (photo 3%)'  # "blue" weighs nothing
    # the judge gives "black" no weight: the other unlikely stated word is named
    assert claims.contradiction(0, np.array([0.0, 1.0, 1.0])) == 'title says "bag" (photo 10%), photo looks like "blue" (90%)'
    assert claims.contradiction(0, np.array([0.0, 1.0, 0.0])) == ""


def test_each_word_gets_its_own_weight_and_a_sample_of_pairs_suffices_to_fit_them():
    """A colour that tells photos apart gets weight, a word the photos read at random gets (about) none; fitted on a sample of the
    pairs, the weights are about those of all of them and every pair is still stacked."""
    rng = np.random.default_rng(0)
    products = 400
    colour = rng.integers(0, 2, products)  # the photo shows red (0) or blue (1); the title says so, and "bag"
    titles = pd.Series(["red bag" if c == 0 else "blue bag" for c in colour])
    p_yes = np.stack([np.where(colour == 0, 0.9, 0.1), np.where(colour == 1, 0.9, 0.1), rng.uniform(0.2, 0.9, products)], 1)
    claims = Claims([WordClaims("title", ["red", "blue", "bag"], stated_words(titles, ["red", "blue", "bag"]),
                                np.log(np.stack([1 - p_yes, p_yes], -1)))])
    t_rows = np.repeat(np.arange(products), 5)
    p_rows = np.where(np.arange(len(t_rows)) % 5 == 0, t_rows, rng.integers(0, products, len(t_rows)))
    labels = (p_rows != t_rows).astype(np.int64)
    pair_logits = rng.normal(0, 1, len(t_rows))  # a pair model that knows nothing
    every = exchange_weighting(claims, pair_logits, (t_rows, p_rows, labels), 1.0)
    sampled = exchange_weighting(claims, pair_logits, (t_rows, p_rows, labels), 1.0, most_pairs=1000)
    for result in (every, sampled):
        red, blue, bag = result["weights"][1:]
        assert red > 0.5 and blue > 0.5 and bag < 0.1 * min(red, blue)
        assert len(result["stacked"]) == len(t_rows) and average_precision(labels, result["stacked"]) > 0.9
    np.testing.assert_allclose(sampled["weights"], every["weights"], rtol=0.3, atol=0.1)


FILLER = ["gift", "offer", "new", "season", "sale", "best", "quality", "classic"]


@pytest.fixture(scope="module")
def titles_only(tmp_path_factory):
    """The demo catalog as most catalogs are: no attribute columns; claims only in the title, a description of words no
    photo shows (drawn at random), a few photos exchanged between products of one shape and two colours."""
    folder = tmp_path_factory.mktemp("titles")
    make_catalog(folder, products=192, swaps=8, seed=3)
    rng = np.random.default_rng(0)
    rows = list(csv.DictReader(open(folder / "products.csv", encoding="utf-8")))
    with open(folder / "titles.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "image", "title", "description"])
        for r in rows:
            writer.writerow([r["id"], r["image"], r["title"], " ".join(rng.choice(FILLER, 3, replace=False))])
    work = folder / "work"
    invoke("ingest", folder / "titles.csv", "-o", work / "catalog.parquet")
    invoke("make-negatives", work / "catalog.parquet", "-o", work / "pairs.parquet", *TINY)
    invoke("train", work / "pairs.parquet", "-o", work / "model")
    invoke("score", work / "catalog.parquet", "-m", work / "model", "-o", work / "scores.parquet")
    truth = pd.read_csv(folder / "truth.csv", dtype=str)
    return {"work": work, "swapped": set(truth.product_id[truth.swapped == "1"])}


def test_a_titles_only_catalog_ranks_its_swapped_photos_first_and_names_the_word(titles_only):
    """The reason quotes the colour the title states: as a word ('title says "red"') or as its slot's value."""
    scores = pd.read_parquet(titles_only["work"] / "scores.parquet")
    ranked = scores.sort_values("mismatch_score", ascending=False).product_id.tolist()
    swapped = titles_only["swapped"]
    assert len(set(ranked[:len(swapped)]) & swapped) >= 0.75 * len(swapped)
    reasons = scores.set_index("product_id").contradiction.fillna("")
    colours = ("red", "blue", "green", "yellow", "purple", "orange", "black", "pink")
    named = [p for p in swapped if any(f'title says "{c}"' in reasons[p] or f"text says {c}," in reasons[p] for c in colours)]
    assert len(named) >= 0.75 * len(swapped), reasons[list(swapped)].tolist()


def test_words_no_photo_shows_are_no_claims_and_one_text_column_suffices(titles_only):
    config = json.loads((titles_only["work"] / "model" / "config.json").read_text())
    metrics = json.loads((titles_only["work"] / "model" / "metrics.json").read_text())
    assert {"red", "blue", "black"} <= set(config["words"]["title"])
    assert not set(FILLER) & set(config["words"].get("description", []))  # the description's random words: no claims
    assert metrics["words"]["description"]["tried"] == len(FILLER)


def test_the_titles_slots_are_checked_as_columns(titles_only):
    config = json.loads((titles_only["work"] / "model" / "config.json").read_text())
    slots = {name: set(slot["words"]) for name, slot in config["slots"].items()}
    assert any({"red", "blue", "black"} <= words for words in slots.values()), slots
    assert not any(set(FILLER) & words for words in slots.values())  # the description is not mined
    assert set(config["attributes"]) == set(slots)  # no attribute column: the slots are its claims
