"""One settings dataclass per stage, with defaults that work; loadable from TOML, overridable by `stage.key=value`."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass
class IngestConfig:
    id_col: str = "id"
    image_col: str = "image"
    text_cols: list[str] = field(default_factory=list)  # empty: title,description where present
    images_root: str = ""  # empty: the catalog file's folder
    format: str = ""  # empty: from the file extension
    max_image_bytes: int = 30_000_000
    max_image_pixels: int = 50_000_000
    download_timeout_s: float = 20.0
    download_retries: int = 3
    download_workers: int = 8
    cache_dir: str = ""  # empty: a `downloads` folder beside the output
    near_duplicate_bits: int = 2
    tiny_side: int = 32
    min_text_chars: int = 10
    workers: int = 4


@dataclass
class NegativesConfig:
    backbone: str = "offline-lite0-minilm"
    cache_dir: str = ""  # empty: a `features` folder beside the output
    folds: int = 3
    hard_photo: int = 2
    hard_text: int = 1
    random: int = 1
    k: int = 10
    near_duplicate_cosine: float = 0.97
    group_col: str = ""
    seed: int = 0
    batch_size: int = 8  # feature extraction; the measured best, as features.EXTRACT_BATCH


@dataclass
class TrainConfig:
    model: str = "zeroshot"  # measured best on five of six cases (BENCHMARKS.md, sixth session); fusion, dual and itm by name
    epochs: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    dim: int = 128
    layers: int = 2
    heads: int = 4
    patience: int = 2
    seed: int = 0
    attribute_cols: list[str] = field(default_factory=lambda: ["auto"])  # auto: the catalog's categorical columns; none: off
    attribute_epochs: int = 40
    exchange_temperature: float = 2.0  # the exchange weighting is fitted on the heads read this much softer (1: as they are)
    text_words: int = 300  # per text column, its most frequent words tried as claims; kept where the photo predicts them (0: off)
    leave_out_suspicious: float = 0.1  # robustness: retrain without this fraction of the worst-fitting products (0: one round)
    max_text_tokens: int = 16  # the fusion reads the whole-text token + the first 15 (the title); its attention cost grows with it
    device: str = ""  # empty: cuda when visible, else cpu

    def __post_init__(self) -> None:
        if not self.exchange_temperature > 0:  # the heads' log-probabilities are divided by it
            raise ConfigError(f"train.exchange_temperature {self.exchange_temperature}: must be above 0 (1: the heads as they are)")


@dataclass
class ScoreConfig:
    threshold: float | None = None  # None: the lowest whose flags are, by estimate, target_precision mismatches
    target_precision: float = 0.5
    max_mismatch_share: float = 0.2  # the share of mismatches is estimated from the catalog, at most this
    candidates: int = 10
    far_candidates: int = 3  # partners searched anywhere in the catalog for products whose photo misfits (0: off)
    simulated_swaps: int = 2000
    batch_size: int = 512
    device: str = ""

    def __post_init__(self) -> None:
        for name in ("target_precision", "max_mismatch_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"score.{name} {getattr(self, name)}: must be above 0 and at most 1")


@dataclass
class EngineConfig:
    """Where feature extraction and scoring run: this process, or a Ray cluster (`pip install 'mmaudit[ray]'`)."""
    name: str = "local"  # local or ray
    ray_address: str = ""  # empty: a local Ray instance; `auto` or `ray://host:10001` joins a running cluster
    actors: int = 0  # 0: one per GPU when the cluster has GPUs, else one per `cpus_per_actor` CPUs
    cpus_per_actor: float = 1.0  # also the actor's torch threads
    gpus_per_actor: float | None = None  # None: 1 when the cluster has GPUs, else 0; a fraction shares a GPU

    def __post_init__(self) -> None:
        if self.name not in ("local", "ray"):  # a typo must not quietly run on the local engine
            raise ConfigError(f"engine {self.name!r}: choose local or ray (--engine, engine.name)")


@dataclass
class ReportConfig:
    max_suspects: int = 2000
    thumb_size: int = 160


STAGES = {"ingest": IngestConfig, "negatives": NegativesConfig, "train": TrainConfig,
          "score": ScoreConfig, "report": ReportConfig, "engine": EngineConfig}


def _coerce(value: Any, current: Any, where: str) -> Any:
    if isinstance(value, str):
        if isinstance(current, bool):
            if value.lower() in ("1", "true", "yes"):
                return True
            if value.lower() in ("0", "false", "no"):
                return False
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        if isinstance(current, list):
            return [v.strip() for v in value.split(",") if v.strip()]
        try:
            if isinstance(current, int):
                return int(value)
            if isinstance(current, float) or current is None:
                return float(value) if value.lower() not in ("", "none") else None
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    return value


def build(stage: str, values: dict[str, Any] | None = None, where: str = "settings") -> Any:
    """Make a stage's config from a dict, naming any unknown key."""
    cls = STAGES[stage]
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    out = {}
    for key, value in (values or {}).items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {stage}.{key}; known: {sorted(known)}")
        out[key] = _coerce(value, getattr(defaults, key), f"{where}: {stage}.{key}")
    return cls(**out)


def load(path: Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    """Load every stage's config from an optional TOML file plus `stage.key=value` overrides."""
    raw: dict[str, dict] = {name: {} for name in STAGES}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc})") from exc
        for stage, values in data.items():
            if stage not in STAGES:
                raise ConfigError(f"{path}: unknown section [{stage}]; sections are {list(STAGES)}")
            raw[stage].update(values)
    for item in overrides:
        key, sep, value = item.partition("=")
        stage, dot, name = key.partition(".")
        if not sep or not dot or stage not in STAGES:
            raise ConfigError(f"--set {item!r}: write it as stage.key=value with stage one of {list(STAGES)}")
        raw[stage][name] = value
    return {stage: build(stage, values, str(path or "--set")) for stage, values in raw.items()}


def as_dict(config: Any) -> dict:
    return dataclasses.asdict(config)
