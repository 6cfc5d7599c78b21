"""Model directories: config.json + model.safetensors + calibration.json + folds.parquet, written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from .. import __version__
from ..errors import ModelError
from ..files import atomic_dir
from . import build
from . import words as word_claims
from .attributes import AttributeHeads

FORMAT_VERSION = 9  # 2: the attribute heads keep a projection of the tower vector; 3: a fit weighting beside the exchange one;
# 4: the attribute heads are an ensemble and read the photo tower's earlier stages (reduced); 5: heads per view (whole, product);
# 6: the heads clip their standardized inputs and read a fine colour histogram too; 7: the exchange weighting is fitted on
# the heads read softer (train.exchange_temperature; a format-6 model fitted at a temperature would be misread); 8: the
# words of the text columns are claims too (word heads, `words` in config.json, cost columns in the weightings); 9: one
# weight per word (a format-8 model has one per text column)


@dataclass
class SavedModel:
    config: dict
    fold_models: list  # one scorer per fold; fold f never trained on the products of fold f
    folds: dict[str, int]  # product id -> fold it was held out in
    calibration: dict
    heads: list[AttributeHeads]  # per fold: photo classifiers of the attribute columns
    word_heads: list[AttributeHeads]  # per fold: which words of each text column a photo shows (config["words"]: the words)

    @property
    def name(self) -> str:
        return f"{self.config['model']}@{self.config['backbone']}"


def save(path: Path, config: dict, fold_models: list, heads: list[AttributeHeads], word_heads: list[AttributeHeads],
         folds: pd.DataFrame, calibration: dict, metrics: dict) -> Path:
    state = {}
    for prefix, modules in (("fold", fold_models), ("attr", heads), ("words", word_heads)):
        state |= {f"{prefix}{f}.{k}": v.detach().cpu().contiguous() for f, m in enumerate(modules) for k, v in m.state_dict().items()}
    with atomic_dir(Path(path)) as tmp:
        (tmp / "config.json").write_text(json.dumps({**config, "format_version": FORMAT_VERSION, "mmaudit_version": __version__,
                                                     "torch_version": torch.__version__}, indent=2, sort_keys=True))
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / "calibration.json").write_text(json.dumps(calibration, indent=2, sort_keys=True))
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        folds.to_parquet(tmp / "folds.parquet", index=False)
    return Path(path)


def load(path: Path) -> SavedModel:
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{path}: not a model directory (no config.json); make one with `mmaudit train pairs.parquet -o {path}`")
    config = json.loads(config_file.read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: model format {config.get('format_version')} from mmaudit {config.get('mmaudit_version')}; "
                         f"this mmaudit ({__version__}) reads format {FORMAT_VERSION}: retrain with `mmaudit train`")
    try:
        state = load_file(str(path / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ModelError(f"{path}/model.safetensors: cannot be read ({exc}); retrain with `mmaudit train`") from exc
    fold_models, heads, word_heads = [], [], []
    inputs = {view: int(size) for view, size in config["attribute_inputs"].items()}
    words = config.get("words", {})
    for f in range(int(config["folds"])):
        model = build(config["model"], config["settings"], config["dims"])
        prefix = f"fold{f}."
        try:
            model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        except RuntimeError as exc:
            raise ModelError(f"{path}: weights do not fit the {config['model']} architecture ({str(exc).splitlines()[0]}); retrain") from exc
        fold_models.append(model.eval())
        attribute_heads = AttributeHeads(inputs, {a: len(c) for a, c in config.get("attributes", {}).items()}, config["dims"])
        heads.append(_loaded(attribute_heads, state, f"attr{f}."))
        if words:
            word_heads.append(_loaded(AttributeHeads(inputs, {c: len(v) for c, v in words.items()}, config["dims"], frozenset(words),
                                                     word_claims.MEMBERS),
                                      state, f"words{f}."))
    folds = pd.read_parquet(path / "folds.parquet")
    calibration = json.loads((path / "calibration.json").read_text())
    return SavedModel(config, fold_models, dict(zip(folds.product_id, folds.fold.astype(int))), calibration, heads, word_heads)


def _loaded(heads: AttributeHeads, state: dict, prefix: str) -> AttributeHeads:
    heads.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return heads.eval()
