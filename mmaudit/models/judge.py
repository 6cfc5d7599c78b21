"""The judge: one object, fitted by `train`, saved as a model directory, loaded by `score`.

It keeps the pair model of each fold, the claim sources (`claims.SOURCES`: the attribute columns and the title's slots,
the words of the text columns) with their photo heads, and the two weightings that stack the pair model's logit with
the claims' costs. On a catalog's rows (`Judge.on`) it gives out-of-fold mismatch logits of any text with any photo,
the vectors that find the photos fitting a text best, and the contradiction behind a product's score, in words.

A model directory: config.json (the pair model, backbone, settings, feature sizes and each source's part),
model.safetensors (every fold's pair model and heads), calibration.json (the weightings, in the order of the claims'
cost columns), metrics.json, folds.parquet (the fold that held each product out); written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from .. import __version__
from ..errors import ModelError
from ..files import atomic_dir
from . import build, prepared_for
from .claims import SOURCES, Claims

FORMAT_VERSION = 9  # 2: the attribute heads keep a projection of the tower vector; 3: a fit weighting beside the exchange one;
# 4: the attribute heads are an ensemble and read the photo tower's earlier stages (reduced); 5: heads per view (whole, product);
# 6: the heads clip their standardized inputs and read a fine colour histogram too; 7: the exchange weighting is fitted on
# the heads read softer (train.exchange_temperature; a format-6 model fitted at a temperature would be misread); 8: the
# words of the text columns are claims too (word heads, `words` in config.json, cost columns in the weightings); 9: one
# weight per word (a format-8 model has one per text column)


@dataclass
class Weighting:
    """A stacking of the pair model's logit and the claims' costs: `weights` over [pair model, claims...] and a bias."""

    weights: np.ndarray
    bias: float


@dataclass
class Judge:
    """The fitted judge. `config`: model, backbone, settings, dims, folds, attribute_inputs, pairs_settings (and each
    source's part, written by `save`); `exchange` tells a product's photo from its look-alikes' (fitted on every kind of
    pair), `fit` says whether a photo belongs to a text at all (positives against random negatives)."""

    config: dict
    pair_models: list  # one per fold; fold f never trained on the products of fold f
    sources: list  # claim sources (`claims.SOURCES`), in the order of their cost columns
    exchange: Weighting
    fit: Weighting
    folds: dict[str, int]  # product id -> the fold that held it out

    @property
    def name(self) -> str:
        return f"{self.config['model']}@{self.config['backbone']}"

    @property
    def claim_names(self) -> list[str]:
        return [name for source in self.sources for name in source.names]

    def calibration(self) -> dict:
        """calibration.json: both weightings, over the columns they weigh, and each source's order."""
        parts = {key: value for source in self.sources for key, value in source.saved()[1].items()}
        return {"method": "stacked", "columns": ["pair_model", *self.claim_names], **parts,
                "weights": self.exchange.weights.tolist(), "bias": self.exchange.bias,
                "fit_weights": self.fit.weights.tolist(), "fit_bias": self.fit.bias}

    def save(self, path: Path, metrics: dict) -> Path:
        state = {}
        for prefix, modules in (("fold", self.pair_models), *((s.key, s.heads) for s in self.sources)):
            state |= {f"{prefix}{f}.{k}": v.detach().cpu().contiguous() for f, m in enumerate(modules) for k, v in m.state_dict().items()}
        config = {**self.config, **{key: value for source in self.sources for key, value in source.saved()[0].items()}}
        folds = pd.DataFrame({"product_id": list(self.folds), "fold": list(self.folds.values())})
        with atomic_dir(Path(path)) as tmp:
            (tmp / "config.json").write_text(json.dumps({**config, "format_version": FORMAT_VERSION, "mmaudit_version": __version__,
                                                         "torch_version": torch.__version__}, indent=2, sort_keys=True))
            save_file(state, str(tmp / "model.safetensors"))
            (tmp / "calibration.json").write_text(json.dumps(self.calibration(), indent=2, sort_keys=True))
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
            folds.to_parquet(tmp / "folds.parquet", index=False)
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> "Judge":
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
        calibration = json.loads((path / "calibration.json").read_text())
        inputs = {view: int(size) for view, size in config["attribute_inputs"].items()}
        pair_models, heads = [], {source.key: [] for source in SOURCES}
        for f in range(int(config["folds"])):
            model = build(config["model"], config["settings"], config["dims"])
            try:
                model.load_state_dict(_part(state, f"fold{f}."))
            except RuntimeError as exc:
                raise ModelError(f"{path}: weights do not fit the {config['model']} architecture ({str(exc).splitlines()[0]}); retrain") from exc
            pair_models.append(model.eval())
            for source in SOURCES:
                empty = source.empty_heads(config, inputs)
                if empty is not None:
                    empty.load_state_dict(_part(state, f"{source.key}{f}."))
                    heads[source.key].append(empty.eval())
        folds = pd.read_parquet(path / "folds.parquet")
        return cls(config, pair_models, [source.restore(config, calibration, heads[source.key]) for source in SOURCES],
                   Weighting(np.array(calibration["weights"]), float(calibration["bias"])),
                   Weighting(np.array(calibration["fit_weights"]), float(calibration["fit_bias"])),
                   dict(zip(folds.product_id, folds.fold.astype(int))))

    def on(self, feats: dict, products: pd.DataFrame, device: torch.device, batch: int) -> "CatalogJudge":
        """The judge on a catalog's rows (`products`, with their features `feats`)."""
        return CatalogJudge(self, feats, products, device, batch)


def _part(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


class CatalogJudge:
    """A judge on one catalog's rows: out-of-fold mismatch logits m(text of i, photo of j), the pair model's logit and
    the cost of each claim the text makes (`Claims`), weighed as `train` stacked them: the exchange weighting tells a
    photo from its look-alikes', the fit weighting says whether a photo belongs to a text at all."""

    def __init__(self, judge: Judge, feats: dict, products: pd.DataFrame, device: torch.device, batch: int):
        self.models = [m.to(device) for m in judge.pair_models]
        self.prepared = []
        for model in self.models:
            self.prepared.append(prepared_for(model, feats, self.prepared[-1] if self.prepared else None))
        self.device = device
        self.fold = np.array([judge.folds.get(pid, -1) for pid in products.product_id])
        self.batch = batch
        self.weighting = {"exchange": judge.exchange, "fit": judge.fit}
        self.claims = Claims([part for source in judge.sources for part in source.on(source.statements(products), feats["inputs"], self.fold)])

    def to(self, device: torch.device) -> "CatalogJudge":
        """The same judge on another device (a Ray actor given a GPU): what it prepared is moved, not redone,
        so every logit comes from one preparation (a neighbour search redone elsewhere can break ties otherwise)."""
        if device != self.device:
            move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
            self.models = [m.to(device) for m in self.models]
            self.prepared = [{k: move(v) for k, v in p.items()} for p in self.prepared]
            self.device = device
        return self

    def columns(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """[pairs, 1 + claims]: the pair model's logit and the cost of each claim."""
        return self.claims.columns(self.pair_model_logits(text_rows, photo_rows), text_rows, photo_rows)

    def weighed(self, pair_logits: np.ndarray, text_rows: np.ndarray, photo_rows: np.ndarray, weighting: str = "exchange") -> np.ndarray:
        """Mismatch logits in a weighting (exchange or fit) of pairs whose pair model's logits are known."""
        chosen = self.weighting[weighting]
        return pair_logits * chosen.weights[0] + self.claims.weighed(text_rows, photo_rows, chosen.weights[1:]) + chosen.bias

    def logits(self, text_rows: np.ndarray, photo_rows: np.ndarray, weighting: str = "exchange") -> np.ndarray:
        """Mismatch logits in a weighting, the exchange weighting by default."""
        return self.weighed(self.pair_model_logits(text_rows, photo_rows), text_rows, photo_rows, weighting)

    def exchange_vectors(self, rows: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(queries, keys) of `rows` whose inner product q_i . k_j is the claims' part of the gain of exchanging i and j,
        less what depends on i alone (own: every row's own logit). With the claims' cost of text i with photo j written as
        c_j - t_i . p_j (`Claims.vectors`): q_i = [t_i, p_i, 1], k_j = [p_j, t_j, own_j - 2 bias - c_j]. The pair model's
        part is left out: this only finds candidates, which the whole judge then scores."""
        weights, bias = self.weighting["exchange"].weights[1:], self.weighting["exchange"].bias
        text, photo, constant = self.claims.vectors(rows, weights)
        ones = np.ones((len(rows), 1), dtype=np.float32)
        return np.hstack([text, photo, ones]), np.hstack([photo, text, (own[rows] - 2 * bias - constant)[:, None].astype(np.float32)])

    def contradictions(self, rows: np.ndarray) -> list[str]:
        """For each row, the claim its own photo contradicts most, in words ("" when none does); a column's value is
        quoted as the catalog writes it, even one too rare for a class of its own."""
        return self.claims.contradictions(rows, self.weighting["fit"].weights[1:])

    @torch.no_grad()
    def pair_model_logits(self, text_rows: np.ndarray, photo_rows: np.ndarray) -> np.ndarray:
        """Each text is judged by its product's held-out model (all models averaged for a product none held out)."""
        out = np.zeros(len(text_rows))
        folds = self.fold[text_rows]
        for f, (model, prepared) in enumerate(zip(self.models, self.prepared)):
            chosen = np.flatnonzero((folds == f) | (folds < 0))
            weight = np.where(folds[chosen] < 0, 1.0 / len(self.models), 1.0)
            for s in range(0, len(chosen), self.batch):
                idx = chosen[s:s + self.batch]
                values = model.pair_logits(prepared, torch.from_numpy(text_rows[idx]), torch.from_numpy(photo_rows[idx]))
                out[idx] += weight[s:s + self.batch] * values.float().cpu().numpy()
        return out
