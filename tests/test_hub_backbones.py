"""Hub fusion backbones (BLIP ITM, ViLT) through the path a user's local copy takes: tiny random models saved to a folder."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from mmaudit import backbones
from mmaudit.cli import app
from mmaudit.models.itm import HubMatchingModel

from .conftest import invoke
from .hub_models import make_hub_model

ARCHITECTURES = ["blip-itm", "vilt"]


@pytest.fixture(scope="module")
def words(demo_catalog) -> list[str]:
    frame = pd.read_csv(demo_catalog, dtype=str)
    return sorted({w for text in frame.title + " " + frame.description for w in re.findall(r"[a-z0-9]+", text.lower())})


@pytest.fixture(scope="module", params=ARCHITECTURES)
def hub_config(request, tmp_path_factory, words):
    return make_hub_model(tmp_path_factory.mktemp("hub") / request.param, request.param, words)


def test_cached_features_give_the_models_own_matching_score(hub_config):
    """The matching head run on cached regions and token ids equals the transformers model run on the photo and text."""
    backbone = backbones.load(str(hub_config))
    photos = [Image.new("RGB", (60, 40), colour) for colour in ("red", "navy", "white")]
    texts = ["red circle small", "navy square large striped", "white"]
    photo, text = backbone.encode_photos(photos), backbone.encode_texts(texts)
    assert photo.regions.dtype == np.float16 and text.ids.dtype == np.int32
    assert np.allclose(np.linalg.norm(photo.pooled, axis=1), 1, atol=1e-5)
    model = HubMatchingModel({"backbone": str(hub_config)}, {}).eval()
    rows_t, rows_p = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 2, 2])
    with torch.no_grad():
        ours = model.pair_logits(model.prepare({"regions": photo.regions, "ids": text.ids, "mask": text.mask}), rows_t, rows_p)
        enc = backbone.tokenize([texts[i] for i in rows_t])
        pixels = backbone.pixels([photos[i] for i in rows_p])
        if backbone.architecture == "blip-itm":
            match = backbone.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=pixels).itm_score
            theirs = match[:, 0] - match[:, 1]
        else:
            theirs = -backbone.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=pixels,
                                     pixel_mask=torch.ones(4, *pixels.shape[2:], dtype=torch.long)).logits.squeeze(-1)
    assert torch.allclose(ours, theirs, atol=2e-3), (ours, theirs)  # regions pass through float16 in the cache
    again = backbones.load(str(hub_config)).encode_photos(photos)
    assert np.array_equal(again.pooled, photo.pooled) and np.array_equal(again.regions, photo.regions)


def test_fine_tune_the_hub_matching_head_end_to_end(hub_config, pipeline, tmp_path):
    pairs, model, scores = tmp_path / "pairs.parquet", tmp_path / "model", tmp_path / "scores.parquet"
    invoke("make-negatives", pipeline["catalog"], "-o", pairs, "--backbone", hub_config, "--set", "negatives.cache_dir=" + str(tmp_path / "f"))
    invoke("train", pairs, "-o", model, "--model", "itm", "--set", "train.epochs=2", "--set", "train.batch_size=32",
           "--set", "train.lr=0.0003", "--set", "train.attribute_cols=none")
    invoke("score", pipeline["catalog"], "-m", model, "-o", scores)
    frame = pd.read_parquet(scores)
    assert len(frame) == len(pd.read_parquet(pipeline["catalog"])) and frame.mismatch_score.notna().all()
    assert frame.model.iloc[0].startswith("itm@")
    before = HubMatchingModel({"backbone": str(hub_config)}, {}).state_dict()
    from mmaudit.models.judge import Judge

    after = Judge.load(model).pair_models[0].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "training changed no weight"


def test_zeroshot_uses_a_shared_space_where_the_backbone_has_one(pipeline, tmp_path, words):
    config = make_hub_model(tmp_path / "blip", "blip-itm", words)
    pairs, model = tmp_path / "pairs.parquet", tmp_path / "model"
    invoke("make-negatives", pipeline["catalog"], "-o", pairs, "--backbone", config)
    invoke("train", pairs, "-o", model, "--model", "zeroshot", "--set", "train.attribute_cols=none")
    from mmaudit.models.judge import Judge

    scorer = Judge.load(model).pair_models[0]
    assert scorer.shared_space
    feats = {"photo": np.eye(3, dtype=np.float32), "text": np.eye(3, dtype=np.float32)}
    logits = scorer.pair_logits(scorer.prepare(feats), torch.tensor([0, 0]), torch.tensor([0, 1]))
    assert logits.tolist() == [-1.0, 0.0]


def test_hub_id_without_the_hub_is_a_clear_error(pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(app, ["make-negatives", str(pipeline["catalog"]), "-o", str(tmp_path / "p.parquet"),
                                      "--backbone", "blip-itm-base-coco", "--set", "negatives.cache_dir=" + str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot load blip-itm from 'Salesforce/blip-itm-base-coco'" in result.output and "local directory" in result.output
    assert "Traceback" not in result.output
