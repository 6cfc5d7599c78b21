"""The feature cache holds what the chosen model reads: vectors on the default path, tokens added when a model that
attends over them is trained or scored, and a cache that already holds both (as a model reading tokens fills it from
nothing, and as every product was stored before the groups were split) is read as it is."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from mmaudit import features, schema
from mmaudit.backbones import get_config
from mmaudit.backbones import load as load_backbone
from mmaudit.feature_keys import GROUPS, PHOTO_KIND, TEXT_KIND, TOKENS, VECTORS, VIEWS
from mmaudit.features import FeatureStore, extraction_batch, photo_arrays, photo_batches, product_features
from mmaudit.images import load_rgb

from .conftest import FAST_TRAIN, TINY, invoke


def held(cache: Path, kind: str) -> list[set[str]]:
    """The names of the arrays each shard of a kind holds."""
    shards = sorted((cache / "tiny-test" / kind).glob("*.npz"))
    out = []
    for shard in shards:
        with np.load(shard) as data:
            out.append(set(data.files) - {"keys"})
    return out


@pytest.mark.slow  # trains two fusion models
def test_default_path_caches_no_tokens_and_a_fusion_model_adds_them_with_the_same_scores(demo_catalog, tmp_path):
    catalog = tmp_path / "catalog.parquet"
    invoke("ingest", demo_catalog, "-o", catalog)
    lazy, full = tmp_path / "lazy", tmp_path / "full"
    invoke("make-negatives", catalog, "-o", tmp_path / "pairs-lazy.parquet", *TINY, "--cache-dir", lazy)
    for kind in (PHOTO_KIND, TEXT_KIND):
        assert held(lazy, kind) and all(names <= set(GROUPS[kind][VECTORS]) for names in held(lazy, kind)), held(lazy, kind)

    products = schema.ok_products(schema.read(catalog, "catalog"), catalog)
    product_features(FeatureStore(full, get_config("tiny-test")), products, tokens=True)  # every group, from nothing
    invoke("make-negatives", catalog, "-o", tmp_path / "pairs-full.parquet", *TINY, "--cache-dir", full)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pairs-lazy.parquet"), pd.read_parquet(tmp_path / "pairs-full.parquet"))

    scores = {}
    for name in ("lazy", "full"):
        invoke("train", tmp_path / f"pairs-{name}.parquet", "-o", tmp_path / f"model-{name}", "--model", "fusion", *FAST_TRAIN)
        invoke("score", catalog, "-m", tmp_path / f"model-{name}", "-o", tmp_path / f"scores-{name}.parquet", "--cache-dir", tmp_path / name)
        scores[name] = pd.read_parquet(tmp_path / f"scores-{name}.parquet")
    photo_shards = held(lazy, PHOTO_KIND)
    added = [names for names in photo_shards if names == set(GROUPS[PHOTO_KIND][TOKENS])]
    assert added and len(added) + len(held(full, PHOTO_KIND)) == len(photo_shards), photo_shards  # only the tokens were computed
    assert any(names >= {"tokens", "mask"} and "pooled" not in names for names in held(lazy, TEXT_KIND))
    np.testing.assert_allclose(scores["lazy"].mismatch_score.to_numpy(float), scores["full"].mismatch_score.to_numpy(float), atol=1e-4)
    assert list(scores["lazy"].flagged) == list(scores["full"].flagged)


def test_only_the_missing_group_is_computed(demo_catalog, tmp_path):
    catalog = tmp_path / "catalog.parquet"
    invoke("ingest", demo_catalog, "-o", catalog)
    products = schema.ok_products(schema.read(catalog, "catalog"), catalog).iloc[:40]
    store = FeatureStore(tmp_path / "cache", get_config("tiny-test"))
    vectors = product_features(store, products)
    assert "regions" not in vectors and "tokens" not in vectors
    assert store.computed == {PHOTO_KIND: 40, TEXT_KIND: 40}
    again = FeatureStore(tmp_path / "cache", get_config("tiny-test"))
    both = product_features(again, products, tokens=True)
    assert again.computed == {PHOTO_KIND: 40, TEXT_KIND: 40} and both["regions"].shape[0] == both["tokens"].shape[0] == 40
    for name, values in vectors.items():
        for part, array in (values.items() if name == "inputs" else [("", values)]):
            np.testing.assert_array_equal(both[name][part] if part else both[name], array, err_msg=f"{name} {part}")
    assert FeatureStore(tmp_path / "cache", get_config("tiny-test")).load(PHOTO_KIND, list(products.image_sha256), (TOKENS,)).keys() == {"regions"}


def test_the_photos_arrays_are_read_a_shard_at_a_time_and_held_once(tmp_path):
    """Each view's claim-head inputs are its cached arrays side by side in float16, read a shard at a time, whatever the
    order of the photos asked for; the colour statistics of the photo as shot are views of its inputs, not copies."""
    rng = np.random.default_rng(0)
    keys = [f"photo{k}" for k in range(40)]
    arrays = {prefix + name: values for prefix in VIEWS.values() for name, values in (
        ("pooled", rng.normal(size=(40, 12)).astype(np.float32)), ("colour", rng.random((40, 4, 6)).astype(np.float16)),
        ("palette", rng.random((40, 5)).astype(np.float16)), ("detail", rng.normal(size=(40, 7)).astype(np.float16)))}
    store = FeatureStore(tmp_path / "cache", get_config("tiny-test"))
    cached = rng.permutation(40)  # three shards of photos in another order than asked for
    for shard in np.array_split(cached, 3):
        store.write_shard(PHOTO_KIND, [keys[k] for k in shard], {name: values[shard] for name, values in arrays.items()})
    assert len(store.shards(PHOTO_KIND)) == 3
    feats = features.cached_photos(store, keys, (VECTORS,))
    for view, prefix in VIEWS.items():
        parts = [arrays[f"{prefix}pooled"], arrays[f"{prefix}colour"].reshape(40, -1), arrays[f"{prefix}palette"], arrays[f"{prefix}detail"]]
        expected = np.concatenate(parts, 1).astype(np.float16)
        assert feats["inputs"][view].dtype == np.float16
        np.testing.assert_array_equal(feats["inputs"][view], expected)
    assert feats["photo"].dtype == np.float32 and np.array_equal(feats["photo"], arrays["pooled"])
    for name in ("colour", "palette", "detail"):
        np.testing.assert_array_equal(feats[name], arrays[name])
        assert np.shares_memory(feats[name], feats["inputs"]["whole"]), name
    assert set(feats) == {"photo", "inputs", "colour", "palette", "detail"}  # the product view's arrays only as its inputs


def photo_paths(demo_catalog: Path, tmp_path: Path, count: int) -> list[str]:
    """`count` photo files of the demo catalog, one of them (the fourth) not a photo."""
    catalog = tmp_path / "catalog.parquet"
    invoke("ingest", demo_catalog, "-o", catalog)
    paths = list(schema.ok_products(schema.read(catalog, "catalog"), catalog).image_path[:count])
    (tmp_path / "broken.jpg").write_bytes(b"not a photo")
    paths[3] = str(tmp_path / "broken.jpg")
    return paths


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_photos_prepared_in_turn_or_ahead_of_the_towers_give_the_arrays_of_one_batch_at_a_time(demo_catalog, tmp_path, workers):
    paths = photo_paths(demo_catalog, tmp_path, 20)
    keys = [f"k{i}" for i in range(len(paths))]
    backbone = load_backbone("tiny-test")
    batches = list(photo_batches(backbone, (VECTORS, TOKENS), keys, paths, batch_size=6, workers=workers))
    assert [count for *_, count in batches] == [6, 6, 6, 2]
    for start, (done, arrays, problems, _) in zip(range(0, 20, 6), batches):
        good, expected, failed = photo_arrays(backbone, paths[start:start + 6], (VECTORS, TOKENS))
        assert done == [keys[start + p] for p in good] and problems == {keys[start + p]: d for p, d in failed.items()}
        assert arrays.keys() == expected.keys() >= {"pooled", "colour", "palette", "product_pooled", "product_colour", "regions"}
        for name in expected:
            np.testing.assert_array_equal(arrays[name], expected[name], err_msg=name)
    assert list(batches[0][2]) == ["k3"]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_next_batches_are_decoded_while_the_towers_encode_this_one(demo_catalog, tmp_path, monkeypatch, workers):
    paths = photo_paths(demo_catalog, tmp_path, 16)
    ahead = paths[4:4 + 4 * workers]  # the photos of the `workers` batches after the first
    decoding: set[str] = set()
    sides: set[int] = set()
    all_ahead_decoding = threading.Event()

    def recording_load(path: Path, least_side: int = 0):
        decoding.add(str(path))
        sides.add(least_side)
        if decoding >= set(ahead):
            all_ahead_decoding.set()
        return load_rgb(path, least_side=least_side)

    monkeypatch.setattr(features, "load_rgb", recording_load)
    backbone = load_backbone("tiny-test")
    encode, seen = backbone.encode_photos, []

    def encode_waiting_for_the_next_batches(images):
        if not seen:  # the first tower call: the workers decode the following batches meanwhile, or never
            seen.append(all_ahead_decoding.wait(timeout=20))
        return encode(images)

    backbone.encode_photos = encode_waiting_for_the_next_batches
    next(photo_batches(backbone, (VECTORS,), [str(i) for i in range(16)], paths, batch_size=4, workers=workers))
    assert seen == [True], sorted(decoding)
    assert sides == {2 * backbone.image_size}  # decoded at twice the tower's side (features.DECODED_SIDE)


def test_a_photo_with_no_background_to_cut_away_is_its_own_product_view_and_the_tower_reads_it_once(demo_catalog, tmp_path):
    """Photos shot in a room or filled by their product have no light background for the product view to cut away:
    the view is the photo itself, so its arrays are the photo's and the tower does not encode it again; the arrays are
    those of encoding every view (the way before), and the photos shot on white are cut out as before."""
    shot_on_white = photo_paths(demo_catalog, tmp_path, 4)[:3]  # the fourth is not a photo
    in_a_room = []
    for k in range(3):
        photo = Image.new("RGB", (120, 160), (40 + 30 * k, 90, 60))
        ImageDraw.Draw(photo).rectangle((30, 40, 90, 120), fill=(200, 40 + 50 * k, 30))
        in_a_room.append(str(tmp_path / f"room{k}.jpg"))
        photo.save(in_a_room[-1])
    paths = [shot_on_white[0], in_a_room[0], shot_on_white[1], in_a_room[1], in_a_room[2], shot_on_white[2]]
    backbone = load_backbone("tiny-test")
    encode, encoded = backbone.encode_photos, []
    backbone.encode_photos = lambda images: encoded.append(len(images)) or encode(images)
    good, arrays, _ = photo_arrays(backbone, paths, (VECTORS,))
    assert good == list(range(6)) and encoded == [6, 3]  # every photo, then the three product views cut out
    rooms = [1, 3, 4]
    for name in ("pooled", "colour", "palette"):
        np.testing.assert_array_equal(arrays["product_" + name][rooms], arrays[name][rooms], err_msg=name)
        assert not np.array_equal(arrays["product_" + name][[0, 2, 5]], arrays[name][[0, 2, 5]]), name
    _, photos, _ = features.loaded_and_prepared(paths, (VECTORS,), None, features.decoded_side(backbone))
    whole, product = photos.views[VIEWS["whole"]], photos.views[VIEWS["product"]]
    photos.views[VIEWS["product"]] = [view.copy() if view is photo else view for photo, view in zip(whole, product)]
    every_view_encoded = features.image_arrays(backbone, photos)
    assert encoded[2:] == [6, 6] and every_view_encoded.keys() == arrays.keys()
    for name in arrays:
        np.testing.assert_array_equal(arrays[name], every_view_encoded[name], err_msg=name)


def test_beside_towers_on_the_cpu_each_batch_is_decoded_in_this_thread_when_it_is_wanted(demo_catalog, tmp_path, monkeypatch):
    paths = photo_paths(demo_catalog, tmp_path, 12)
    decoded: list[tuple[str, str]] = []  # (photo, the thread that decoded it)

    def recording_load(path: Path, least_side: int = 0):
        decoded.append((str(path), threading.current_thread().name))
        return load_rgb(path, least_side=least_side)

    monkeypatch.setattr(features, "load_rgb", recording_load)
    backbone = load_backbone("tiny-test")
    assert features.photo_workers(backbone) == 0  # the tiny tower runs on the CPU
    batches = photo_batches(backbone, (VECTORS,), [str(i) for i in range(12)], paths, batch_size=4, workers=0)
    next(batches)
    assert [path for path, _ in decoded] == paths[:4]  # the next batch waits for the towers to want it
    next(batches)
    assert [path for path, _ in decoded] == paths[:8] and {name for _, name in decoded} == {threading.current_thread().name}


def test_the_towers_batch_is_chosen_for_their_device_unless_set():
    assert extraction_batch({"device": "cpu"}) == 8 and extraction_batch({"device": "cuda"}) == 256
    assert extraction_batch({"device": "cuda"}, 32) == 32 and extraction_batch({"device": "cpu"}, 3) == 3
