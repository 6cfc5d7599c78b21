"""Settings are declared once: each with its doc in its dataclass, configs/default.toml written from them."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from mmaudit import config
from mmaudit.train import warn_idle_settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_doc():
    for stage, cls in config.STAGES.items():
        assert cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("), stage  # its own doc, not the dataclass's
        for f in dataclasses.fields(cls):
            assert len(f.metadata.get("doc", "")) > 10, f"{stage}.{f.name} has no doc"


def test_default_toml_is_written_from_the_settings_and_loads_back_to_the_defaults():
    assert (ROOT / "configs" / "default.toml").read_text() == config.default_toml(), \
        "configs/default.toml drifted: run `python -m mmaudit.config > configs/default.toml`"
    loaded = config.load(ROOT / "configs" / "default.toml")
    for stage, cls in config.STAGES.items():
        assert config.as_dict(loaded[stage]) == config.as_dict(cls()), stage


def test_a_pair_model_setting_changed_for_the_zeroshot_model_is_said_to_do_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="mmaudit"):
        warn_idle_settings(config.build("train", {"epochs": 9}))
        warn_idle_settings(config.build("train", {"epochs": 9, "model": "fusion"}))
        warn_idle_settings(config.build("train", {}))
    assert [r.getMessage() for r in caplog.records] == [
        "train.epochs: no effect with the zeroshot model, which trains nothing (fusion, dual and itm use them)"]
