"""One settings dataclass per stage, with defaults that work; loadable from TOML, overridable by `stage.key=value`."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


def setting(default: Any, doc: str) -> Any:
    """A setting's default and its one-line doc (shown in configs/default.toml, which `default_toml` writes)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class IngestConfig:
    """Reading the catalog and its photos (`mmaudit ingest`)."""
    id_col: str = setting("id", "column with the product id")
    image_col: str = setting("image", "column with the photo: a path relative to images_root, or an http(s) URL")
    text_cols: list[str] = setting([], "text columns the models read; empty: title and description where present")
    images_root: str = setting("", "folder photo paths are relative to; empty: the catalog file's folder")
    format: str = setting("", "csv, tsv, jsonl or parquet; empty: from the file extension")
    max_image_bytes: int = setting(30_000_000, "a photo file larger than this is refused (image_too_large) before decoding")
    max_image_pixels: int = setting(50_000_000, "a photo of more pixels than this is refused (image_too_large) before decoding")
    download_timeout_s: float = setting(20.0, "seconds before a photo download is given up")
    download_retries: int = setting(3, "attempts per photo URL")
    download_workers: int = setting(8, "photo downloads at a time")
    cache_dir: str = setting("", "folder of downloaded photos; empty: a downloads folder beside the output")
    near_duplicate_bits: int = setting(2, "photos whose perceptual hashes differ in at most this many bits are near-duplicates")
    tiny_side: int = setting(32, "a photo whose shorter side is under this many pixels is tiny")
    min_text_chars: int = setting(10, "a text shorter than this many characters is short")
    workers: int = setting(0, "processes that read and hash the photos; 0: one per CPU core")

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"ingest.workers {self.workers}: must be 0 (one per CPU core) or more")


@dataclass
class NegativesConfig:
    """Photo and text features and the training pairs (`mmaudit make-negatives`)."""
    backbone: str = setting("offline-lite0-minilm", "photo and text towers: a name from `mmaudit backbones` or a backbone JSON file")
    cache_dir: str = setting("", "feature cache folder; empty: a features folder beside the output")
    folds: int = setting(3, "products are split into this many folds; each is scored by models trained on the others")
    hard_photo: int = setting(2, "per product, negatives with the photo of one of its k most similar photos")
    hard_text: int = setting(1, "per product, negatives with the photo of one of its k most similar texts' products")
    random: int = setting(1, "per product, negatives with any other product's photo")
    k: int = setting(10, "hard negatives are drawn from this many nearest neighbours")
    near_duplicate_cosine: float = setting(0.97, "photos this similar (cosine) and of the same colours are one product's: never negatives")
    group_col: str = setting("", "column whose equal values mark variants of one product: never negatives")
    seed: int = setting(0, "random seed of the folds and the negatives")
    batch_size: int = setting(0, "photos and texts per call of the towers; 0: 8 on the CPU, 256 on a GPU (the measured best of each)")

    def __post_init__(self) -> None:
        if self.batch_size < 0:
            raise ConfigError(f"negatives.batch_size {self.batch_size}: must be 0 (chosen for the device) or more")


@dataclass
class TrainConfig:
    """The pair model, the claim heads and their weightings (`mmaudit train`)."""
    model: str = setting("zeroshot", "pair model: zeroshot (no training of its own), fusion, dual or itm")
    epochs: int = setting(3, "most epochs per fold of a trained pair model (fusion, dual, itm)")
    batch_size: int = setting(256, "pairs per step of a trained pair model")
    lr: float = setting(1e-3, "learning rate of a trained pair model")
    weight_decay: float = setting(0.01, "weight decay of a trained pair model")
    dim: int = setting(128, "width of the fusion and dual models")
    layers: int = setting(2, "cross-attention layers of the fusion model")
    heads: int = setting(4, "attention heads of the fusion model")
    patience: int = setting(2, "epochs without a better validation AP before a trained pair model stops")
    seed: int = setting(0, "random seed of every model")
    attribute_cols: list[str] = setting(["auto"], "columns whose values the photo should show: auto (the categorical ones), none, or names")
    attribute_epochs: int = setting(20, "epochs of the claim heads (attribute columns and words), at their learning rate of 2e-3")
    head_precision: str = setting("auto", "the claim heads' training: fp32, bf16 (their inputs and products in bfloat16), or auto: bf16 where the device computes it natively (a GPU that does, a CPU with AMX or AVX-512 BF16), fp32 elsewhere")
    exchange_temperature: float = setting(2.0, "the exchange weighting is fitted on the claim heads read this much softer (1: as they are)")
    title_slots: int = setting(16, "the most slots mined from the title (words that replace one another in otherwise equal titles), checked as attribute columns are (0: off)")
    text_words: int = setting(300, "per text column, its most frequent words tried as claims, kept where the photo predicts them (0: off)")
    leave_out_suspicious: float = setting(0.1, "the claim heads are trained again without this share of worst-fitting products (0: once)")
    max_text_tokens: int = setting(16, "tokens the fusion model reads: the whole-text token and the title's first ones")
    fusion_word_loss: float = setting(1.0, "weight of the fusion model's word task (from the fused text and photo, the words the photo's own text states; 0: off)")
    device: str = setting("", "where the models run: cpu or cuda; empty: cuda when visible")

    def __post_init__(self) -> None:
        if self.attribute_epochs < 1:  # heads that never trained would judge every photo at random
            raise ConfigError(f"train.attribute_epochs {self.attribute_epochs}: must be at least 1")
        if self.head_precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"train.head_precision {self.head_precision!r}: choose auto, fp32 or bf16")
        if not self.exchange_temperature > 0:  # the heads' log-probabilities are divided by it
            raise ConfigError(f"train.exchange_temperature {self.exchange_temperature}: must be above 0 (1: the heads as they are)")


@dataclass
class ScoreConfig:
    """Scoring, exchanges and the flag threshold (`mmaudit score`)."""
    threshold: float | None = setting(None, "flag at or above this mismatch score; empty: chosen without labels for target_precision")
    target_precision: float = setting(0.5, "flag where, by estimate, this share of the flags are mismatches")
    max_mismatch_share: float = setting(0.2, "the catalog's share of mismatches is estimated from its scores, at most this")
    candidates: int = setting(10, "exchange candidates per product from each search (similar photo, similar text, expected photo)")
    far_candidates: int = setting(3, "partners searched anywhere in the catalog for products whose photo misfits (0: off)")
    simulated_swaps: int = setting(2000, "photos exchanged on purpose, of each kind, to fit the flag threshold without labels")
    batch_size: int = setting(512, "pairs per batch of the pair model")
    device: str = setting("", "where the models run: cpu or cuda; empty: cuda when visible")

    def __post_init__(self) -> None:
        for name in ("target_precision", "max_mismatch_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"score.{name} {getattr(self, name)}: must be above 0 and at most 1")


@dataclass
class EngineConfig:
    """Where feature extraction and scoring run: this process, or a Ray cluster (`pip install 'mmaudit[ray]'`)."""
    name: str = setting("local", "local (this process) or ray")
    ray_address: str = setting("", "empty: a local Ray instance; auto or ray://host:10001 joins a running cluster")
    actors: int = setting(0, "0: one per GPU when the cluster has GPUs, else one per cpus_per_actor CPUs")
    cpus_per_actor: float = setting(1.0, "CPUs per Ray actor, also its torch threads")
    gpus_per_actor: float | None = setting(None, "empty: 1 when the cluster has GPUs, else 0; a fraction shares a GPU")
    photo_workers: int = setting(0, "local engine: threads decoding photos ahead of the towers; 0: none beside towers on the CPU "
                                    "(each batch decoded before they encode it), else one per CPU core but one, at most 8")

    def __post_init__(self) -> None:
        if self.name not in ("local", "ray"):  # a typo must not quietly run on the local engine
            raise ConfigError(f"engine {self.name!r}: choose local or ray (--engine, engine.name)")


@dataclass
class ReportConfig:
    """The HTML report (`mmaudit report`)."""
    max_suspects: int = setting(2000, "suspects listed in the HTML page; every product is in scores.csv")
    thumb_size: int = setting(160, "thumbnail side in pixels")


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


def default_toml() -> str:
    """configs/default.toml: every setting with its default and its doc, as the dataclasses above declare them."""
    lines = ["# Every setting, its default and what it does (written by `python -m mmaudit.config`; do not edit by hand).",
             "# Copy what you change into your own file and pass it with --config, or use --set stage.key=value."]
    for stage, cls in STAGES.items():
        lines += ["", f"[{stage}]  # {cls.__doc__}"]
        for f in dataclasses.fields(cls):
            value = getattr(cls(), f.name)  # TOML has no empty value: a setting empty by default is shown commented out
            lines.append(f"# {f.name} =  # {f.metadata['doc']}" if value is None else f"{f.name} = {_toml_value(value)}  # {f.metadata['doc']}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


if __name__ == "__main__":
    print(default_toml(), end="")
