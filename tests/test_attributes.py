"""Attribute heads: the photo classifiers whose costs explain and score claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mmaudit.feature_keys import VIEWS
from mmaudit.features import photo_inputs
from mmaudit.models.attributes import INPUT_LIMIT, TOWER_COMPONENTS, AttributeHeads, ViewHeads, claim_costs, softened, title_values


def test_heads_learn_from_fewer_photos_than_tower_directions():
    """A small catalog (a fold with fewer photos than the 128 directions kept of a 1,280-d tower) still trains,
    and the heads learn the labels: this is the shape of the README's demo with the real towers."""
    rng = np.random.default_rng(0)
    tower, detail, photos = 10 * TOWER_COMPONENTS, 6 * TOWER_COMPONENTS, TOWER_COMPONENTS // 2
    labels = np.arange(photos) % 2
    x = rng.normal(size=(photos, tower + 6 + detail)).astype(np.float32)
    x[:, tower] += 3 * labels  # one colour input tells the two classes apart
    heads = ViewHeads(x.shape[1], {"colour": 2}, tower=tower, detail=detail).fit(x, {"colour": labels}, epochs=60, seed=0)
    log_p = heads.log_probs(x)["colour"]
    assert np.isfinite(log_p).all()
    assert (log_p.argmax(1) == labels).mean() > 0.9
    assert heads.tower_basis.shape == (TOWER_COMPONENTS, tower) and not heads.tower_basis[photos:].any()
    assert heads.detail_basis.shape == (TOWER_COMPONENTS, detail) and not heads.detail_basis[photos:].any()
    assert heads.mean.shape == (2 * TOWER_COMPONENTS + 6,)  # what the members read: both blocks reduced


def test_members_differ_and_their_probabilities_are_averaged():
    """Each member trains from its own seed; the heads' answer is the mean of the members' probabilities."""
    rng = np.random.default_rng(1)
    labels = np.arange(200) % 3
    x = rng.normal(size=(200, 8)).astype(np.float32)
    x[:, 0] += 2 * labels
    heads = ViewHeads(x.shape[1], {"colour": 3}, members=3).fit(x, {"colour": labels}, epochs=5, seed=0)
    z = heads.standardized(torch.from_numpy(x))
    with torch.no_grad():
        each = [heads.member_log_probs(m, z)["colour"].exp().numpy() for m in heads.members]
    assert not np.allclose(each[0], each[1], atol=1e-3)
    np.testing.assert_allclose(np.exp(heads.log_probs(x)["colour"]), np.mean(each, 0), rtol=1e-4, atol=1e-6)


def test_views_are_read_by_their_own_members_and_averaged():
    """One set of members per view of the photo, each trained on its view's inputs only; the heads' answer is the
    mean probability over every member of every view, so a view that sees the label lifts the answer."""
    rng = np.random.default_rng(2)
    labels = np.arange(300) % 2
    x = {"whole": rng.normal(size=(300, 6)).astype(np.float32), "product": rng.normal(size=(300, 9)).astype(np.float32)}
    x["product"][:, 0] += 4 * labels  # only the product view shows the label
    heads = AttributeHeads({"whole": 6, "product": 9}, {"colour": 2}, {"photo": 0}).fit(x, {"colour": labels}, epochs=20, seed=0)
    per_view = {name: np.exp(view.log_probs(x[name])["colour"]) for name, view in heads.views.items()}
    assert (per_view["product"].argmax(1) == labels).mean() > 0.95 > (per_view["whole"].argmax(1) == labels).mean()
    np.testing.assert_allclose(np.exp(heads.log_probs(x)["colour"]), (per_view["whole"] + per_view["product"]) / 2, rtol=1e-4, atol=1e-6)
    assert (heads.log_probs(x)["colour"].argmax(1) == labels).mean() > 0.9


def test_an_input_the_training_photos_never_showed_is_not_read_with_confidence():
    """A colour-histogram bin empty on every training photo but one has a spread near zero: a new photo with pixels
    in it would stand hundreds of spreads away. Its standardized input is clipped, so the answer stays the one the
    other inputs give."""
    rng = np.random.default_rng(2)
    labels = np.arange(300) % 2
    x = rng.normal(size=(300, 6)).astype(np.float32)
    x[:, 0] += 3 * labels
    x[:, 5] = 0.0
    x[0, 5] = 0.01  # the rare bin
    torch.manual_seed(0)  # the initial weights, as `train` seeds them: an input at the clip can still move an answer
    heads = ViewHeads(x.shape[1], {"colour": 2}, members=1).fit(x, {"colour": labels}, epochs=20, seed=0)
    new = x[:40].copy()
    new[:, 5] = 0.5  # 50 times the one value seen in training
    z = heads.standardized(torch.from_numpy(new))
    assert z.abs().max() <= INPUT_LIMIT
    agree = (heads.log_probs(new)["colour"].argmax(1) == heads.log_probs(x[:40])["colour"].argmax(1)).mean()
    assert agree > 0.9


def test_a_temperature_softens_the_heads_without_changing_what_a_photo_reads_as():
    rng = np.random.default_rng(0)
    log_p = torch.log_softmax(torch.from_numpy(rng.normal(0, 3, (50, 6))), 1).numpy().astype(np.float32)
    assert softened({"colour": log_p}, 1.0)["colour"] is log_p
    soft = softened({"colour": log_p}, 2.0)["colour"]
    np.testing.assert_allclose(np.exp(soft).sum(1), 1.0, rtol=1e-5)
    assert (soft.argmax(1) == log_p.argmax(1)).all()
    assert (soft.max(1) < log_p.max(1)).all()


def test_a_title_names_another_value_only_as_a_whole_word_and_alone():
    classes = ["Black", "Blue", "Navy Blue", "other"]
    titles = pd.Series(["Men Navy Blue Shirt", "Blue Jeans", "Black & Blue Socks", "Plain Shirt", "NAVY BLUE Tee", "Bluebird Top", None])
    codes = np.array([1, 1, 0, 0, 2, 0, 1])
    # the longest name first (Navy Blue, not Blue); the column's own value, two values, none, or a longer word: no other claim
    assert title_values(titles, codes, classes).tolist() == [2, -1, -1, -1, -1, -1, -1]


def test_a_text_that_states_two_values_claims_either():
    log_p = {"colour": np.log(np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]))}
    codes = {"colour": np.array([1, 0])}
    rows = np.array([0, 1])
    alone = claim_costs(log_p, codes, rows, rows)
    np.testing.assert_allclose(alone[:, 0], -np.log([0.2, 0.6]))
    either = claim_costs(log_p, codes, rows, rows, {"colour": np.array([2, -1])})
    np.testing.assert_allclose(either[:, 0], -np.log([0.9, 0.6]))  # photo 0 shows the title's value; row 1 states one


def test_heads_of_the_same_photos_fit_their_inputs_reduction_once(monkeypatch):
    """The attribute heads and the word heads of one training read the same photos: the word heads take the inputs'
    principal directions and standardization the attribute heads fitted, and are the same as heads fitted alone."""
    from mmaudit.config import TrainConfig
    from mmaudit.models import attributes
    from mmaudit.train import fit_heads

    rng = np.random.default_rng(3)
    photos, tower, detail = 240, 40, 24
    x = {view: rng.normal(size=(photos, tower + 5 + detail)).astype(np.float32) for view in ("whole", "product")}
    dims, folds, config = {"photo": tower, "detail": detail}, np.arange(photos) % 3, TrainConfig(attribute_epochs=3)
    colour = {"colour": np.arange(photos) % 4}
    words = {"title": (rng.random((photos, 7)) < 0.3).astype(np.int64)}
    calls = []
    eigenvectors = attributes.principal_directions
    monkeypatch.setattr(attributes, "principal_directions", lambda gram: calls.append(len(gram)) or eigenvectors(gram))

    def word_heads(reductions):
        fit_heads(config, x, dims, colour, {"colour": 4}, folds, np.zeros(0, np.int64), reductions=reductions)
        return fit_heads(config, x, dims, words, {"title": 7}, folds, np.zeros(0, np.int64), frozenset(words), 1, reductions)

    alone = word_heads(None)
    assert len(calls) == 2 * 3 * 2 * 2  # two heads x three folds x two views x two reduced blocks
    calls.clear()
    shared = word_heads({})
    assert len(calls) == 3 * 2 * 2
    for a, b in zip(alone, shared):
        np.testing.assert_array_equal(a.log_probs(x)["title"], b.log_probs(x)["title"])


def test_the_photos_are_read_out_of_fold_a_block_at_a_time_as_at_once(monkeypatch):
    """`out_of_fold_log_probs` reads `READ_ROWS` photos at a time (a fold's inputs and outputs at once grow with the
    catalog): each photo by the heads of the fold that held it out, a new product by all folds averaged, as at once."""
    from mmaudit.models import attributes

    rng = np.random.default_rng(3)
    x = {"whole": rng.normal(size=(90, 6)).astype(np.float32)}
    labels = {"colour": rng.integers(0, 3, 90), "words": (rng.random((90, 4)) < 0.3).astype(np.int8)}
    folds = np.arange(90) % 3
    folds[:7] = -1  # new products
    fold_heads = [AttributeHeads({"whole": 6}, {"colour": 3, "words": 4}, {"photo": 0}, frozenset({"words"}))
                  .fit(x, labels, epochs=2, seed=f) for f in range(3)]
    at_once = attributes.out_of_fold_log_probs(fold_heads, folds, x)
    monkeypatch.setattr(attributes, "READ_ROWS", 4)
    in_blocks = attributes.out_of_fold_log_probs(fold_heads, folds, x)
    assert set(in_blocks) == {"colour", "words"}
    for name in at_once:
        np.testing.assert_allclose(in_blocks[name], at_once[name], rtol=1e-6, atol=1e-7)
    held_out = fold_heads[1].log_probs({"whole": x["whole"][folds == 1]})["colour"]
    np.testing.assert_allclose(in_blocks["colour"][folds == 1], held_out, rtol=1e-6, atol=1e-7)
    averaged = np.mean([h.log_probs({"whole": x["whole"][:7]})["colour"] for h in fold_heads], 0)
    np.testing.assert_allclose(in_blocks["colour"][:7], averaged, rtol=1e-5, atol=1e-6)


def test_the_inputs_reduction_is_fitted_a_part_at_a_time_as_on_the_rows_at_once(monkeypatch):
    """The heads' inputs are held in float16 and read `INPUT_ROWS` photos at a time, never copied whole per fold: the
    means, principal directions and spreads summed part by part are those of the chosen rows at once, and the
    standardized inputs come in the precision the heads train in."""
    from mmaudit.models import attributes

    rng = np.random.default_rng(4)
    tower, detail, photos = 24, 16, 300
    arrays = {f"{prefix}{name}": values for prefix in ("", "product_") for name, values in (
        ("pooled", rng.normal(size=(photos, tower)).astype(np.float32)), ("colour", rng.random((photos, 4, 6)).astype(np.float16)),
        ("palette", rng.random((photos, 5)).astype(np.float16)), ("detail", rng.normal(size=(photos, detail)).astype(np.float16)))}
    x = {view: np.concatenate(photo_inputs(arrays, prefix), 1, dtype=np.float16, casting="same_kind") for view, prefix in VIEWS.items()}
    assert all(values.shape == (photos, tower + 24 + 5 + detail) for values in x.values())
    rows = np.sort(rng.choice(photos, 200, replace=False))
    at_once = torch.from_numpy(x["whole"][rows].astype(np.float32))
    monkeypatch.setattr(attributes, "INPUT_ROWS", 32)  # seven parts
    heads = ViewHeads(x["whole"].shape[1], {"colour": 3}, tower=tower, detail=detail)
    jobs = heads.jobs(x["whole"], rows, {"colour": np.arange(200) % 3}, dtype=torch.bfloat16)
    tower_rows, detail_rows = at_once[:, :tower], at_once[:, -detail:]
    torch.testing.assert_close(heads.tower_mean, tower_rows.mean(0))
    torch.testing.assert_close(heads.detail_mean, detail_rows.mean(0))
    for basis, values in ((heads.tower_basis, tower_rows), (heads.detail_basis, detail_rows)):
        expected = torch.linalg.svd(values - values.mean(0), full_matrices=False).Vh
        torch.testing.assert_close((basis @ expected.T).abs(), torch.eye(len(basis)), atol=1e-3, rtol=0)  # the same directions, up to sign
    reduced = heads.reduce(at_once)
    torch.testing.assert_close(heads.mean, reduced.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(heads.scale, reduced.std(0) + 1e-6, atol=1e-5, rtol=1e-5)
    assert jobs[0].z.dtype == torch.bfloat16 and jobs[0].z.shape == (200, heads.mean.shape[0])
    torch.testing.assert_close(jobs[0].z, heads.standardized(at_once).to(torch.bfloat16))
