"""make-negatives, train and score on the drawn demo catalog with the tiny backbone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from mmaudit import exchanges, schema, score, train
from mmaudit.models.judge import CatalogJudge, Judge
from mmaudit.cli import app
from mmaudit.feature_keys import PHOTO_KIND
from mmaudit.features import FeatureStore, open_store, product_features
from mmaudit.backbones import get_config, load as load_backbone
from mmaudit.flag_threshold import combine
from mmaudit.metrics import average_precision, sigmoid

from .conftest import TINY, invoke

runner = CliRunner()


def meta(path: Path) -> dict:
    return schema.read_metadata(path)["settings"]


@pytest.fixture()
def guarded_catalog(tmp_path, demo_catalog) -> Path:
    """The demo catalog plus products that must never be negatives of each other."""
    src = demo_catalog.parent
    frame = pd.read_csv(demo_catalog, dtype=str).head(48)
    frame["group"] = frame["id"]
    first = frame.iloc[0]
    Image.open(src / frame.iloc[1].image).resize((90, 90)).save(src / "images/near.png")
    extra = pd.DataFrame([
        {**first, "id": "SAMEFILE", "title": "A different title for the same file", "group": "SAMEFILE"},
        {**frame.iloc[1], "id": "NEARDUP", "image": "images/near.png", "title": "Resized copy", "group": "NEARDUP"},
        {**frame.iloc[2], "id": "GROUPED", "image": frame.iloc[10].image, "group": frame.iloc[2].id, "title": "Variant"},
        {**frame.iloc[3], "id": "SAMETEXT", "image": frame.iloc[20].image, "group": "SAMETEXT"},
    ])
    out = src / "guarded.csv"
    pd.concat([frame, extra]).to_csv(out, index=False)
    return out


def test_guards_keep_true_matches_out_of_negatives(guarded_catalog, tmp_path):
    invoke("ingest", guarded_catalog, "-o", tmp_path / "catalog.parquet")
    invoke("make-negatives", tmp_path / "catalog.parquet", "-o", tmp_path / "pairs.parquet", *TINY,
           "--group-col", "group", "--set", "negatives.folds=1", "--k", "60", "--set", "negatives.random=20")
    pairs = pd.read_parquet(tmp_path / "pairs.parquet")
    negatives = set(zip(pairs[pairs.label == 1].text_product_id, pairs[pairs.label == 1].photo_product_id))
    forbidden = [("P0000", "SAMEFILE"), ("P0001", "NEARDUP"), ("P0002", "GROUPED"), ("P0003", "SAMETEXT")]
    for a, b in forbidden:
        assert (a, b) not in negatives and (b, a) not in negatives, (a, b)
    rejected = meta(tmp_path / "pairs.parquet")["guard_rejected"]
    assert all(rejected[k] > 0 for k in ("same_photo", "near_duplicate", "same_group", "same_text")), rejected


def test_pairs_schema_determinism_and_cache_reuse(pipeline, tmp_path):
    again = tmp_path / "pairs.parquet"
    invoke("make-negatives", pipeline["catalog"], "-o", again, *TINY)
    first, second = pd.read_parquet(pipeline["pairs"]), pd.read_parquet(again)
    pd.testing.assert_frame_equal(first, second)
    assert meta(again)["features_computed"] == {PHOTO_KIND: 0, "text": 0}
    assert meta(pipeline["pairs"])["features_computed"][PHOTO_KIND] > 0
    fields = {f.name: f.type for f in pq.read_schema(again)}
    assert all(fields[f.name] == f.type for f in schema.PAIRS)
    assert set(first.kind) == {"positive", "hard_photo", "hard_text", "random"}
    positives = first[first.label == 0]
    assert (positives.text_product_id == positives.photo_product_id).all()
    hard, rand = first[first.kind == "hard_photo"].similarity.mean(), first[first.kind == "random"].similarity.mean()
    assert hard > rand


def test_extraction_resumes_after_a_crash(pipeline, tmp_path):
    catalog = pd.read_parquet(pipeline["catalog"])
    photos = dict(zip(catalog.image_sha256, catalog.image_path))

    class Crash(Exception):
        pass

    calls = {"n": 0}

    def crashing_backbone():
        backbone = load_backbone("tiny-test")
        encode = backbone.encode_photos

        def encode_then_crash(images):
            calls["n"] += 1
            if calls["n"] == 5:  # two tower calls a batch (one per view of the photos): the third batch crashes
                raise Crash()
            return encode(images)
        backbone.encode_photos = encode_then_crash
        return backbone

    store = FeatureStore(tmp_path, get_config("tiny-test"), shard_size=16, load_backbone=crashing_backbone)
    with pytest.raises(Crash):
        store.ensure_photos(photos, batch_size=16)
    assert store.computed[PHOTO_KIND] == 32
    resumed = FeatureStore(tmp_path, get_config("tiny-test"), shard_size=16)
    resumed.ensure_photos(photos, batch_size=16)
    assert resumed.computed[PHOTO_KIND] == len(photos) - 32
    assert not list(tmp_path.rglob("*.tmp"))


def test_trained_model_ranks_swapped_products_first(pipeline):
    scores = pd.read_parquet(pipeline["scores"])
    truth = pd.read_csv(pipeline["truth"], dtype=str)
    merged = scores.merge(truth, on="product_id")
    labels = merged.swapped.astype(int).to_numpy()
    ap = average_precision(labels, merged.mismatch_score.to_numpy())
    assert ap > 4 * labels.mean(), ap  # a model that learned nothing scores near the base rate
    assert merged.flagged.dtype == bool and merged.model.iloc[0] == "zeroshot@tiny-test"


def test_the_exported_gain_is_the_one_the_score_counts(pipeline):
    """mismatch_score is the calibrated combination of pair_score and swap_gain as exported: the report's "exchanging
    photos with swap_with" names what raised the score."""
    scores = pd.read_parquet(pipeline["scores"]).query("status == 'ok' and pair_score > 0 and pair_score < 1")
    cal = meta(pipeline["scores"])["calibration"]
    pair_logit = np.log(scores.pair_score.to_numpy()) - np.log1p(-scores.pair_score.to_numpy())
    combined = combine(pair_logit, scores.swap_gain.to_numpy(), cal["signal_scales"])
    np.testing.assert_allclose(sigmoid(cal["a"] * combined + cal["b"]), scores.mismatch_score, rtol=1e-6)
    counted = scores.swap_gain.notna()
    assert counted.any() and scores.swap_with[counted].notna().all() and scores.swap_with[~counted].isna().all()


def test_every_row_comes_out_and_broken_ones_keep_their_status(pipeline, tmp_path):
    catalog = pd.read_parquet(pipeline["catalog"])
    broken = catalog.copy()
    broken.loc[:4, "status"] = "unreadable_image"
    path = tmp_path / "catalog.parquet"
    from mmaudit.files import write_table
    write_table(schema.to_table(broken, "catalog", {}), path)
    shutil.copytree(pipeline["catalog"].parent / "features", tmp_path / "features")
    invoke("score", path, "-m", pipeline["model"], "-o", tmp_path / "scores.parquet")
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert len(scores) == len(catalog)
    assert scores.loc[:4, "mismatch_score"].isna().all() and (scores.loc[:4, "status"] == "unreadable_image").all()
    assert scores.loc[5:, "mismatch_score"].notna().all()


def test_scoring_resumes_and_matches_an_uninterrupted_run(pipeline, tmp_path, monkeypatch):
    monkeypatch.setattr(score, "CHUNK", 32)
    calls = {"n": 0}
    real = score.score_chunk

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(score, "score_chunk", crash_on_third)
    out = tmp_path / "scores.parquet"
    with pytest.raises(KeyboardInterrupt):
        score.run(pipeline["catalog"], pipeline["model"], out)
    assert not out.exists()
    calls["n"] = -100
    score.run(pipeline["catalog"], pipeline["model"], out)
    n = len(pd.read_parquet(pipeline["catalog"]))
    assert calls["n"] == -100 + (n + 31) // 32 - 2  # the two finished chunks were not recomputed
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(pipeline["scores"]), check_exact=False, rtol=1e-4)


def test_score_releases_the_photo_features_before_the_pairs_are_scored(pipeline, tmp_path, monkeypatch):
    """Once the judge has prepared what it reads and the candidates are found, every photo's vectors (which grow with
    the catalog) are released before the pairs are scored; the scores are the same."""
    import gc
    import weakref

    photos, alive = [], []
    load, score_all = score.product_features, score._score_all

    def loading(*args, **kwargs):
        out = load(*args, **kwargs)
        arrays = [array for name, array in out.items() if name not in ("text", "inputs")] + list(out["inputs"].values())
        photos.extend(weakref.ref(array) for array in arrays)  # the judge keeps the texts
        return out

    def scoring(*args, **kwargs):
        gc.collect()
        alive.append(sum(ref() is not None for ref in photos))
        return score_all(*args, **kwargs)

    monkeypatch.setattr(score, "product_features", loading)
    monkeypatch.setattr(score, "_score_all", scoring)
    out = tmp_path / "scores.parquet"
    score.run(pipeline["catalog"], pipeline["model"], out)
    assert len(photos) >= 5 and alive == [0]  # the photo's vector, colour and palette, each view's inputs
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(pipeline["scores"]), check_exact=False, rtol=1e-4)


def test_saved_model_loads_to_identical_scores(pipeline, tmp_path):
    invoke("score", pipeline["catalog"], "-m", pipeline["model"], "-o", tmp_path / "again.parquet")
    a, b = pd.read_parquet(pipeline["scores"]), pd.read_parquet(tmp_path / "again.parquet")
    np.testing.assert_array_equal(a.mismatch_score.to_numpy(), b.mismatch_score.to_numpy())
    files = {p.name for p in pipeline["model"].iterdir()}
    assert {"config.json", "model.safetensors", "calibration.json", "metrics.json", "folds.parquet"} <= files


def test_model_from_another_version_or_backbone_is_refused(pipeline, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(pipeline["model"], model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    result = runner.invoke(app, ["score", str(pipeline["catalog"]), "-m", str(model), "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code == 1 and "retrain" in result.output and "Traceback" not in result.output
    (model / "config.json").write_text(json.dumps({**config, "backbone": "no-such-backbone"}))
    result = runner.invoke(app, ["score", str(pipeline["catalog"]), "-m", str(model), "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code == 1 and "unknown backbone" in result.output


def test_a_temperature_that_cannot_soften_is_refused_before_training(pipeline, tmp_path):
    result = runner.invoke(app, ["train", str(pipeline["pairs"]), "-o", str(tmp_path / "m"), "--set", "train.exchange_temperature=0"])
    assert result.exit_code == 1 and "must be above 0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_an_unknown_precision_of_the_claim_heads_is_refused_before_training(pipeline, tmp_path):
    result = runner.invoke(app, ["train", str(pipeline["pairs"]), "-o", str(tmp_path / "m"), "--set", "train.head_precision=fp16"])
    assert result.exit_code == 1 and "train.head_precision 'fp16': choose auto, fp32 or bf16" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_claim_heads_without_an_epoch_are_refused_before_training(pipeline, tmp_path):
    result = runner.invoke(app, ["train", str(pipeline["pairs"]), "-o", str(tmp_path / "m"), "--set", "train.attribute_epochs=0"])
    assert result.exit_code == 1 and "train.attribute_epochs 0: must be at least 1" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_wrong_file_for_a_stage_names_the_command(pipeline, tmp_path):
    result = runner.invoke(app, ["train", str(pipeline["catalog"]), "-o", str(tmp_path / "m")])
    assert result.exit_code == 1 and "mmaudit make-negatives" in result.output


@pytest.mark.parametrize("model, extra", [("dual", []), ("zeroshot", []), ("zeroshot", ["--set", "train.attribute_cols=none"])])
def test_baselines_train_and_score_through_the_same_interface(pipeline, tmp_path, model, extra):
    invoke("train", pipeline["pairs"], "-o", tmp_path / "m", "--model", model, "--epochs", "3", *extra)
    invoke("score", pipeline["catalog"], "-m", tmp_path / "m", "-o", tmp_path / "s.parquet")
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert scores.mismatch_score.notna().all() and scores.model.iloc[0] == f"{model}@tiny-test"


def test_an_unknown_engine_is_refused_not_run_locally(pipeline, tmp_path):
    from typer.testing import CliRunner

    from mmaudit.cli import app

    result = CliRunner().invoke(app, ["score", str(pipeline["catalog"]), "-m", str(pipeline["model"]),
                                      "-o", str(tmp_path / "s.parquet"), "--engine", "raay"])
    assert result.exit_code == 1 and "choose local or ray" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.parquet").exists()


def judge_of(pipeline, saved: Judge) -> tuple[CatalogJudge, pd.DataFrame]:
    """The judge `score` builds for the pipeline's catalog with a saved model, and the products it judges."""
    products = schema.ok_products(schema.read(pipeline["catalog"], "catalog"), pipeline["catalog"])
    pairs_settings = meta(pipeline["pairs"])
    feats = product_features(open_store(pipeline["catalog"], pairs_settings["backbone"], pairs_settings["cache_dir"]), products)
    return saved.on(feats, products, torch.device("cpu"), 256), products


def test_the_saved_model_weighs_each_claim_as_train_fitted_it(pipeline):
    # config.json lists the attribute columns sorted; the demo's (colour, shape, size, pattern) are not, so a
    # judge that took the weights in the file's order would weigh the colour claim as another column's
    saved = Judge.load(pipeline["model"])
    assert saved.claim_names != sorted(saved.claim_names)
    judge, products = judge_of(pipeline, saved)
    pairs = pd.read_parquet(pipeline["pairs"])
    row = {pid: i for i, pid in enumerate(products.product_id)}
    logits = judge.logits(pairs.text_product_id.map(row).to_numpy(), pairs.photo_product_id.map(row).to_numpy())
    trained = json.loads((pipeline["model"] / "metrics.json").read_text())
    assert average_precision(pairs.label.to_numpy(), logits) == pytest.approx(trained["stacked_val_ap"], abs=1e-6)
    assert trained["head_precision"] == train.head_precision("auto", torch.device("cpu"))  # the precision auto chose, recorded
    # the fit weighting, fitted on the positives and the random negatives, judges those as train measured
    fit = pairs.kind.isin(["positive", "random"]).to_numpy()
    fitted = judge.logits(pairs.text_product_id.map(row).to_numpy()[fit], pairs.photo_product_id.map(row).to_numpy()[fit], "fit")
    assert average_precision(pairs.label.to_numpy()[fit], fitted) == pytest.approx(trained["fit_val_ap"], abs=1e-6)


def test_the_exchange_weighting_is_fitted_on_softer_heads_and_gives_the_same_gains_on_their_own_costs(pipeline, tmp_path):
    invoke("train", pipeline["pairs"], "-o", tmp_path / "m", "--set", "train.exchange_temperature=3")
    saved = Judge.load(tmp_path / "m")
    judge, products = judge_of(pipeline, saved)
    pairs = pd.read_parquet(pipeline["pairs"])
    row = {pid: i for i, pid in enumerate(products.product_id)}
    t, p = pairs.text_product_id.map(row).to_numpy(), pairs.photo_product_id.map(row).to_numpy()
    weights = judge.weighting["exchange"].weights
    softer = judge.claims.softened(3.0)  # the attribute columns' and the words' claims
    # the weights train fitted on the heads read at T = 3, saved divided by T for the heads' own costs
    fitted, _ = train.stack(softer.columns(judge.pair_model_logits(t, p), t, p), pairs.label.to_numpy(np.float64))
    np.testing.assert_allclose(np.concatenate([weights[:1], 3 * weights[1:]]), fitted, rtol=1e-5, atol=1e-9)
    # each photo's normaliser cancels in an exchange: the judge's gains are those of the softer heads weighed as fitted
    i, j = t[pairs.kind.to_numpy() == "hard_photo"], p[pairs.kind.to_numpy() == "hard_photo"]
    at_t = lambda a, b: np.column_stack([judge.pair_model_logits(a, b), softer.costs(a, b)]) @ fitted  # noqa: E731
    np.testing.assert_allclose(exchanges.exchange_gain(judge.logits(i, i), judge.logits(j, j), judge.logits(i, j), judge.logits(j, i)),
                               exchanges.exchange_gain(at_t(i, i), at_t(j, j), at_t(i, j), at_t(j, i)), rtol=1e-4, atol=1e-4)
    trained = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert average_precision(pairs.label.to_numpy(), judge.logits(t, p)) == pytest.approx(trained["stacked_val_ap"], abs=1e-6)


def test_a_title_that_names_another_value_makes_the_claim_either(pipeline):
    """`train` saves which column titles are read from; `score`'s judge takes a value the title names beside the
    column's as a claim of either, and names it when the photo contradicts both. The column's value is quoted as
    written, even one too rare for a class of its own."""
    saved = Judge.load(pipeline["model"])
    assert saved.sources[0].title_col == "title"
    judge, products = judge_of(pipeline, saved)
    columns = judge.claims.parts[0]  # the attribute columns' claims
    colours = columns.classes["colour"]
    r = 0
    seen = int(columns.log_probs["colour"][r].argmax())
    unlikely = [int(c) for c in np.argsort(columns.log_probs["colour"][r]) if colours[c] != "other"][:2]
    edited = products.copy()
    edited.loc[r, "colour"], edited.loc[r, "title"] = colours[unlikely[0]], f"{colours[seen]} shape"
    pairs_settings = meta(pipeline["pairs"])
    feats = product_features(open_store(pipeline["catalog"], pairs_settings["backbone"], pairs_settings["cache_dir"]), edited)
    rows = np.array([r])
    k = judge.claims.names.index("colour")
    shows_title = saved.on(feats, edited, torch.device("cpu"), 256)
    column_only = saved.on(feats, edited.drop(columns="title"), torch.device("cpu"), 256)
    assert shows_title.columns(rows, rows)[0, 1 + k] == pytest.approx(-np.log(np.exp(columns.log_probs["colour"][r, [unlikely[0], seen]]).sum()))
    assert column_only.columns(rows, rows)[0, 1 + k] == pytest.approx(-columns.log_probs["colour"][r, unlikely[0]])
    # the colour claim's explanation (another column, or a word, may be the product's most contradicted claim)
    fit_weights = judge.weighting["fit"].weights[1:1 + len(columns.names)]
    only_colour = np.where(np.array(columns.names) == "colour", max(fit_weights[k], 1.0), 0.0)
    explain = lambda: saved.on(feats, edited, torch.device("cpu"), 256).claims.parts[0].contradictions(np.array([r]), only_colour)[0]  # noqa: E731
    edited.loc[r, "title"] = f"{colours[unlikely[1]]} shape"  # both values unlikely: contradicted, and the title named
    assert explain().startswith(f"colour: text says {colours[unlikely[0]]} (title: {colours[unlikely[1]]}), photo looks {colours[seen]}")
    edited.loc[r, "colour"], edited.loc[r, "title"] = "Sea Green", "shape"  # a value too rare to have its own class
    assert explain().startswith("colour: text says Sea Green, photo looks")  # as written, not the pooled class "other"


def test_what_train_holds_per_product_is_released_before_the_claim_heads_train(pipeline, tmp_path, monkeypatch):
    """The peak of `train`'s memory is the claim heads' training, and what it holds per product then is what grows with
    the catalog: the catalog's features (read by the pair models; the heads read the photo inputs, which stay) are
    released before the first round of heads trains, and the first round's claims (every photo's readings) before
    the second."""
    import gc
    import weakref

    features, claims, alive_at_fit = [], [], []
    load, fit, read = train.load_training_data, train.HeadsJob.fit, train.HeadsJob.claims

    def loading(*args, **kwargs):
        out = load(*args, **kwargs)
        features.extend(weakref.ref(array) for name, array in out[2].items() if name != "inputs")
        return out

    def reading(self, sources):
        out = read(self, sources)
        claims.append(weakref.ref(out))
        return out

    def fitting(self, left_out):
        gc.collect()
        alive_at_fit.append(sum(ref() is not None for ref in features + claims))
        return fit(self, left_out)

    monkeypatch.setattr(train, "load_training_data", loading)
    monkeypatch.setattr(train.HeadsJob, "claims", reading)
    monkeypatch.setattr(train.HeadsJob, "fit", fitting)
    train.run(pipeline["pairs"], tmp_path / "model", train.TrainConfig(epochs=1), pipeline["catalog"])
    assert len(features) >= 4 and len(claims) == 2 and alive_at_fit == [0, 0]  # text and photo vectors, colour, palette


def test_what_the_texts_state_is_read_once_for_both_rounds_of_claims(pipeline, tmp_path, monkeypatch):
    """The claims are read after each round of heads; what the texts state (each source's `statements`) is read for
    the first round and kept: the second round's claims check the same statements against its own heads' readings."""
    from mmaudit.models.columns import ColumnSource
    from mmaudit.models.words import WordClaims, WordSource

    read, claims = [], []
    for source in (ColumnSource, WordSource):
        monkeypatch.setattr(source, "statements", lambda self, products, stated=source.statements: read.append(type(self)) or stated(self, products))
    reading = train.HeadsJob.claims
    monkeypatch.setattr(train.HeadsJob, "claims", lambda self, sources: claims.append(reading(self, sources)) or claims[-1])
    train.run(pipeline["pairs"], tmp_path / "model", train.TrainConfig(epochs=1), pipeline["catalog"])
    assert len(claims) == 2 and read == [ColumnSource, WordSource]
    first, second = (c.parts for c in claims)
    stated = lambda part: part.stated if isinstance(part, WordClaims) else part.also_stated  # noqa: E731
    assert len(first) == len(second) > 1 and any(isinstance(part, WordClaims) for part in first)
    assert all(stated(a) is stated(b) for a, b in zip(first, second))
    assert not any(np.array_equal(a.log_probs, b.log_probs) for a, b in zip(first, second) if isinstance(a, WordClaims))


def test_a_negative_tower_batch_is_refused_before_any_work(pipeline, tmp_path):
    result = runner.invoke(app, ["make-negatives", str(pipeline["catalog"]), "-o", str(tmp_path / "p.parquet"), "--set", "negatives.batch_size=-8"])
    assert result.exit_code == 1 and "negatives.batch_size -8: must be 0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "p.parquet").exists()
