"""`mmaudit train`: fit one pair scorer per fold (cross-fitting), calibrate, save a model directory.

Fold f's model trains on the pairs of the other folds and is validated (early stopping,
calibration) on fold f's pairs, so `score` can judge every product with a model that never
saw it: a model trained on a product memorizes the catalog's own errors as truths.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import models, reviews, schema
from .allocator import keep_freed_buffers, no_huge_pages
from .config import TrainConfig, as_dict
from .errors import MMAuditError
from .files import atomic_path
from .features import dims_of, open_store, product_features
from .metrics import average_precision, column_spreads, fit_logistic
from .models.judge import Judge, Weighting
from .models.attributes import MEMBERS, AttributeHeads, encode_values, input_sizes, out_of_fold_log_probs
from .models.claims import Claims
from .models.head_fitting import fit_together
from .models.columns import ColumnSource
from .models.slots import coverage, repeating_columns, slots_of, with_slots
from .models.words import MEMBERS as WORD_MEMBERS, WordSource, mine_vocabulary, predictable, reindexed, stated_words, word_labels
from .devices import computes_bf16, pick_device
from .progress import bar, log


def attribute_columns(requested: list[str], products: pd.DataFrame, catalog_path: Path) -> list[str]:
    """The columns whose values the photo should show: named ones, all categorical ones (auto), or none."""
    if requested in ([], ["none"]):
        return []
    if requested == ["auto"]:
        made_by = schema.read_metadata(catalog_path).get("settings", {})
        exclude = set(schema.CATALOG.names) | set(made_by.get("text_cols", [])) | {"pixel_std", made_by.get("image_col", "image")}
        return schema.detect_columns(products, exclude)
    missing = [c for c in requested if c not in products.columns]
    if missing:
        raise MMAuditError(f"{catalog_path}: no attribute column(s) {missing}; columns are {list(products.columns)}; "
                           "fix train.attribute_cols (auto, none or a list)")
    return list(requested)


def text_columns(products: pd.DataFrame, catalog_path: Path) -> list[str]:
    """The catalog's text columns (as `ingest` chose them) that it still keeps."""
    return [c for c in schema.read_metadata(catalog_path).get("settings", {}).get("text_cols", []) if c in products.columns]


def title_column(products: pd.DataFrame, catalog_path: Path) -> str:
    """The catalog's first text column (the title, by default), whose named attribute values count as claims too; ""
    when the catalog keeps none."""
    return next(iter(text_columns(products, catalog_path)), "")


def stack(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Weigh the pair model's logit and each attribute claim's cost (`x`: `Claims.columns`; overwritten) with a
    logistic model on held-out pairs. Weights are kept non-negative (a contradicted claim never makes a pair fit
    better): a column that gets a negative weight is dropped and the rest refitted."""
    # fitted on standardized columns with a ridge in proportion to the pairs, so that where a claim separates the
    # pairs, the weights stay finite; standardized in place, as a copy of the costs is a gigabyte at `STACKED_PAIRS`
    spread = column_spreads(x) + 1e-9
    x /= spread
    active = np.arange(x.shape[1])  # the columns fitted, kept in x's first columns (moved there in place, not copied)
    fitted = None
    while True:
        fitted = fit_logistic(x[:, :len(active)], labels, ridge=1e-3 * len(x), start=fitted)
        kept = fitted[:-1] >= 0
        if kept.all():
            break
        for k, column in enumerate(np.flatnonzero(kept)):  # column >= k: no column is overwritten before it moves
            x[:, k] = x[:, column]
        active = active[kept]
        fitted = np.append(fitted[:-1][kept], fitted[-1])  # the refit starts where this fit ended, less the dropped columns
    weights = np.zeros(x.shape[1])
    weights[active] = fitted[:-1] / spread[active]
    return weights, float(fitted[-1])


def load_training_data(pairs_path: Path, catalog_path: Path | None, tokens: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """Pairs, the ok products they refer to, their features (with the tokens, for a model that reads them), and the
    settings that made the pairs."""
    pairs = schema.read(pairs_path, "pairs")
    made_by = schema.read_metadata(pairs_path).get("settings", {})
    catalog_path = Path(catalog_path or made_by.get("catalog", ""))
    catalog = schema.read(catalog_path, "catalog")
    products = schema.ok_products(catalog, catalog_path)
    unknown = set(pairs.text_product_id) - set(products.product_id)
    if unknown:
        raise MMAuditError(f"{pairs_path}: {len(unknown)} product(s) not ok in {catalog_path} (e.g. {sorted(unknown)[:3]}); "
                           "the pairs come from another catalog: rerun `mmaudit make-negatives`")
    feats = product_features(open_store(catalog_path, made_by.get("backbone", "offline-lite0-minilm"), made_by.get("cache_dir", "")),
                             products, tokens=tokens)
    return pairs, products, feats, made_by


def _logits(model, prepared: dict, text_rows: np.ndarray, photo_rows: np.ndarray, batch: int) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(text_rows), batch):
            out.append(model.pair_logits(prepared, torch.from_numpy(text_rows[s:s + batch]),
                                         torch.from_numpy(photo_rows[s:s + batch])).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


class BestEpoch:
    """Early stopping on validation AP: keeps the best epoch's weights and validation logits, and says when `patience`
    epochs in a row have not beaten it."""

    def __init__(self, patience: int):
        self.patience, self.ap, self.state, self.logits, self.stale = patience, -1.0, None, None, 0

    def stop_after(self, model, val_ap: float, val_logits: np.ndarray) -> bool:
        if val_ap > self.ap:
            self.ap, self.stale, self.logits = val_ap, 0, val_logits
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.stale += 1
        return self.stale >= self.patience

    def restore(self, model, history: dict) -> tuple[np.ndarray, dict]:
        """The best epoch's weights back into `model`; its validation logits and the history with its AP."""
        model.load_state_dict(self.state)
        history["best_val_ap"] = self.ap
        return self.logits, history


def train_fold(model: models.PairScorer, prepared: dict, train: tuple, val: tuple, config: TrainConfig, device: torch.device,
               fold: int, seed: int) -> tuple[np.ndarray, dict]:
    """Train one scorer with early stopping on validation AP; return its validation logits and history. A scorer that
    trains nothing is only run on the validation pairs; a trained one learns from its own `loss` (`models.TrainedPairScorer`)."""
    model.to(device)
    history = {"epochs": []}
    if not model.trainable:
        logits = _logits(model, prepared, val[0], val[1], 4 * config.batch_size)
        history["best_val_ap"] = average_precision(val[2], logits)
        return logits, history
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * ((len(train[0]) + config.batch_size - 1) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(steps, 1), pct_start=0.1)
    best = BestEpoch(config.patience)
    with bar() as progress:
        task = progress.add_task(f"train fold {fold}", total=steps, rate="")
        for epoch in range(config.epochs):
            model.train()
            order = rng.permutation(len(train[0]))
            losses = []
            for s in range(0, len(order), config.batch_size):
                idx = order[s:s + config.batch_size]
                loss = model.loss(prepared, torch.from_numpy(train[0][idx]), torch.from_numpy(train[1][idx]), torch.from_numpy(train[2][idx]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                progress.update(task, advance=1, rate=f"loss {np.mean(losses[-50:]):.3f}")
            val_logits = _logits(model, prepared, val[0], val[1], 4 * config.batch_size)
            val_ap = average_precision(val[2], val_logits)
            history["epochs"].append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_ap": val_ap})
            progress.update(task, rate=f"loss {np.mean(losses):.3f} val AP {val_ap:.3f}")
            log.info("fold %d epoch %d: loss %.4f, val AP %.4f", fold, epoch + 1, np.mean(losses), val_ap)
            if best.stop_after(model, val_ap, val_logits):
                break
    return best.restore(model, history)


def suspicious_products(stacked: np.ndarray, pairs: pd.DataFrame, t_rows: np.ndarray, fraction: float) -> np.ndarray:
    """Rows of the products whose own photo fits their text worst (out of fold): the likeliest errors
    of the catalog, which training would otherwise learn as matches."""
    own = (pairs.kind == "positive").to_numpy()
    count = int(round(fraction * own.sum()))
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    return t_rows[own][np.argsort(-stacked[own], kind="stable")[:count]]


def save_fold(path: Path, model, val_logits: np.ndarray, history: dict) -> None:
    """One finished fold's pair model, so an interrupted `train` does not train it again."""
    state = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state["val_logits"] = torch.from_numpy(np.ascontiguousarray(val_logits))
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"history": json.dumps(history)})


def load_fold(path: Path, model_name: str, settings: dict, dims: dict) -> tuple:
    with safe_open(str(path), "pt") as handle:  # one read: tensors and the history beside them
        history = json.loads(handle.metadata()["history"])
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    model = models.build(model_name, settings, dims)
    model.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")})
    return model.eval(), state["val_logits"].numpy(), history


def fit_pair_models(config: TrainConfig, settings: dict, dims: dict, feats: dict, pairs: pd.DataFrame, rows: tuple,
                    product_folds: np.ndarray, device: torch.device, checkpoints: Path) -> tuple[list, list, np.ndarray]:
    """One pair model per fold, trained on the other folds' pairs; every pair's logit from the model of
    the fold that held it out. Each finished fold is kept in `checkpoints` and reused by a rerun."""
    t_rows, p_rows, labels = rows
    fold_models, histories = [], []
    val_logits = np.zeros(len(pairs), dtype=np.float64)
    prepared = None
    for fold in range(int(product_folds.max()) + 1):
        in_fold = pairs.fold.to_numpy() == fold
        checkpoint = checkpoints / f"fold{fold}.safetensors"
        if checkpoint.exists():  # finished before an interruption
            model, val_logits[in_fold], history = load_fold(checkpoint, config.model, settings, dims)
        else:
            torch.manual_seed(config.seed + fold)  # initial weights independent of whatever ran before
            model = models.build(config.model, settings, dims)
            model.setup(feats, np.flatnonzero(product_folds != fold))
            prepared = models.prepared_for(model, feats, prepared)
            val_logits[in_fold], history = train_fold(model, prepared, (t_rows[~in_fold], p_rows[~in_fold], labels[~in_fold]),
                                                      (t_rows[in_fold], p_rows[in_fold], labels[in_fold]),
                                                      config, device, fold, config.seed + fold)
            model = model.cpu().eval()
            save_fold(checkpoint, model, val_logits[in_fold], history)
        fold_models.append(model)
        histories.append(history)
    return fold_models, histories, val_logits


def head_precision(setting: str, device: torch.device) -> str:
    """The claim heads' precision on `device`: `train.head_precision`, auto read as bf16 where the device multiplies
    bfloat16 natively (docs/decisions/2026-12-04-claim-heads-in-bf16.md)."""
    if setting != "auto":
        return setting
    return "bf16" if computes_bf16(device) else "fp32"


def fit_heads(config: TrainConfig, photo_x: dict[str, np.ndarray], dims: dict, labels: dict[str, np.ndarray], sizes: dict[str, int],
              product_folds: np.ndarray, left_out: np.ndarray, multilabel: frozenset[str] = frozenset(),
              members: int = MEMBERS, reductions: dict[int, dict] | None = None, what: str = "columns and title slots") -> list[AttributeHeads]:
    """Per fold, photo classifiers of `labels` (per column: a class per product, or in `multilabel`, 0/1 per product and
    word) trained on the other folds' products, except `left_out` (photo_x: the features' `inputs`; dims: `dims_of` the
    features, which say where the tower's vector and earlier stages lie). `reductions`: per fold, the inputs' reduction
    that heads fitted on the same products (the same `left_out`) left, reused; filled where empty. `what` the heads
    learn names their progress bar."""
    heads, jobs = [], []
    reductions = {} if reductions is None else reductions
    device = pick_device(config.device)
    precision = head_precision(config.head_precision, device)
    for fold in range(int(product_folds.max()) + 1):
        train_products = np.setdiff1d(np.flatnonzero(product_folds != fold), left_out)
        torch.manual_seed(config.seed + fold)
        heads.append(AttributeHeads(input_sizes(photo_x), sizes, dims, multilabel, members))
        # the inputs standardized in the precision the heads train in: every fold's are held until they train
        jobs += heads[-1].jobs(photo_x, train_products, {a: values[train_products] for a, values in labels.items()},
                               reductions.setdefault(fold, {}), torch.bfloat16 if precision == "bf16" else torch.float32)
    description = f"claim heads: {what}" + (f", {len(left_out)} left out" if len(left_out) else "")
    # every fold's networks at once, on the GPU where there is one
    fit_together(jobs, config.attribute_epochs, multilabel, config.seed, description, device, precision)
    return [fold_heads.eval() for fold_heads in heads]


class HeadsJob:
    """The claim heads of one training on `products`: attribute columns and slots (`encoded`: per column its codes and
    classes; `slots`: the title's, `slots.with_slots`, already among `products`' columns) and the words of the text
    columns (`words`: per column its vocabulary and each product's stated words), fitted per fold and made claim sources."""

    def __init__(self, config: TrainConfig, products: pd.DataFrame, photo_x: dict[str, np.ndarray], dims: dict, product_folds: np.ndarray,
                 encoded: dict, title_col: str, slots: dict[str, dict], words: dict[str, tuple[list[str], np.ndarray]]):
        self.config, self.products, self.photo_x, self.dims, self.folds = config, products, photo_x, dims, product_folds
        self.encoded, self.title_col, self.slots, self.words = encoded, title_col, slots, words
        self.statements: list | None = None  # what the texts state, per source: read once, every round checks the same

    def fit(self, left_out: np.ndarray) -> tuple[list[AttributeHeads], list[AttributeHeads]]:
        """Attribute heads and word heads per fold, trained without `left_out`; both read the same photos, whose inputs'
        reduction is fitted once."""
        reductions: dict[int, dict] = {}
        heads = fit_heads(self.config, self.photo_x, self.dims, {a: codes for a, (codes, _) in self.encoded.items()},
                          {a: len(classes) for a, (_, classes) in self.encoded.items()}, self.folds, left_out, reductions=reductions)
        word_heads = fit_heads(self.config, self.photo_x, self.dims,
                               {c: word_labels(stated, len(vocabulary)) for c, (vocabulary, stated) in self.words.items()},
                               {c: len(vocabulary) for c, (vocabulary, _) in self.words.items()}, self.folds, left_out,
                               frozenset(self.words), WORD_MEMBERS, reductions, "words") if self.words else []
        return heads, word_heads

    def keep_predictable_words(self, word_heads: list[AttributeHeads]) -> dict[str, dict]:
        """Cut each text column's vocabulary (and the heads' outputs) to the words the heads predict out of fold;
        per column, how many were tried and kept."""
        log_probs = out_of_fold_log_probs(word_heads, self.folds, self.photo_x)
        kept_words, report = {}, {}
        for column, (vocabulary, stated) in self.words.items():
            kept = predictable(word_labels(stated, len(vocabulary)), log_probs[column])
            for heads in word_heads:
                heads.keep_outputs(column, kept)
            report[column] = {"tried": len(vocabulary), "kept": int(len(kept))}
            if len(kept):
                kept_words[column] = ([vocabulary[k] for k in kept], reindexed(stated, kept, len(vocabulary)))
        self.words = kept_words
        self.statements = None  # of the words tried: those kept are read again
        log.info("words as claims, kept where the photo predicts them: %s", report)
        return report

    def sources(self, heads: list[AttributeHeads], word_heads: list[AttributeHeads]) -> list:
        """The claim sources these heads make (`claims.SOURCES`, in their order)."""
        return [ColumnSource({a: classes for a, (_, classes) in self.encoded.items()}, self.title_col, self.slots, heads),
                WordSource({c: vocabulary for c, (vocabulary, _) in self.words.items()}, word_heads)]

    def claims(self, sources: list) -> Claims:
        """The sources' claims on the training catalog's products, each photo read out of fold. What the texts state is
        read by the first round's sources and kept: the next round's check the same columns, slots and words."""
        if self.statements is None:
            self.statements = [source.statements(self.products) for source in sources]
        return Claims([part for source, stated in zip(sources, self.statements) for part in source.on(stated, self.photo_x, self.folds)])


STACKED_PAIRS = 200_000  # the weightings are fitted on at most this many pairs (a seeded sample beyond): each pair has
# a cost column per claim, hundreds with the words of the text, and every pair of a large catalog would not fit in memory


def stacking_sample(pairs: int, most_pairs: int = STACKED_PAIRS) -> np.ndarray:
    """The pairs a weighting is fitted on: all of them, or a seeded sample of `most_pairs` (the same for both weightings)."""
    if pairs <= most_pairs:
        return np.arange(pairs)
    return np.sort(np.random.default_rng(0).choice(pairs, most_pairs, replace=False))


def exchange_weighting(claims: Claims, val_logits: np.ndarray, rows: tuple, exchange_temperature: float,
                       most_pairs: int = STACKED_PAIRS) -> dict:
    """Out-of-fold claim costs of the pairs (of `most_pairs` of them at most) stacked with the pair model's logits on
    every kind of pair: the exchange weighting, which tells a product's photo from its look-alikes'; `stacked`: every
    pair weighed by it (bias included), which also ranks the products for the heads' second round.

    It is fitted on the claims read softer, at `exchange_temperature` (log_softmax(log p / T)), and saved for their own
    costs: in an exchange's gain each photo's normaliser cancels, so a claim's part of a gain at T is its part at 1
    divided by T, and the weights divided by T give the same gains."""
    t_rows, p_rows, labels = rows
    sample = stacking_sample(len(t_rows), most_pairs)
    weights, bias = stack(claims.softened(exchange_temperature).columns(val_logits[sample], t_rows[sample], p_rows[sample]),
                          labels[sample].astype(np.float64))
    weights[1:] /= exchange_temperature
    return {"weights": weights, "bias": bias, "stacked": weighed(claims, val_logits, t_rows, p_rows, weights) + bias}


def fit_weighting(claims: Claims, val_logits: np.ndarray, rows: tuple, fit_pairs: np.ndarray, most_pairs: int = STACKED_PAIRS) -> dict:
    """The same stacking on the positives and `fit_pairs` only: the fit weighting (does this photo belong to this text at
    all). It sees each photo's normaliser as noise in the claims' costs and leans more on the pair model; `fit_val_ap`
    covers every such pair. Only the last round's heads need it."""
    t_rows, p_rows, labels = rows
    sample = stacking_sample(len(t_rows), most_pairs)
    fit = sample[fit_pairs[sample] | (labels[sample] == 0)]
    fit_weights, fit_bias = stack(claims.columns(val_logits[fit], t_rows[fit], p_rows[fit]), labels[fit].astype(np.float64))
    fit_all = fit_pairs | (labels == 0)
    return {"fit_weights": fit_weights, "fit_bias": fit_bias,
            "fit_val_ap": average_precision(labels[fit_all], weighed(claims, val_logits[fit_all], t_rows[fit_all], p_rows[fit_all], fit_weights))}


def weighed(claims: Claims, pair_logits: np.ndarray, t_rows: np.ndarray, p_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The pair model's logit and the claims' costs of each pair, weighed by `weights` (bias left out)."""
    return pair_logits * weights[0] + claims.weighed(t_rows, p_rows, weights[1:])


def with_verdicts(pairs: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """The pairs as the reviewers' verdicts correct them: the pair of a product confirmed wrong with its own photo becomes
    a labelled mismatch (kind `reviewed_wrong`), and where a reviewer named the product whose photo it is, that product's
    text and this photo become a labelled match (kind `reviewed_match`, in that product's fold)."""
    wrong = verdicts[verdicts.verdict == reviews.WRONG]
    pairs = pairs.copy()
    own = (pairs.kind == "positive") & pairs.text_product_id.isin(set(wrong.product_id))
    pairs.loc[own, "label"] = 1
    pairs.loc[own, "kind"] = "reviewed_wrong"
    named = wrong[wrong.right_photo_of.isin(set(pairs.text_product_id))]
    fold = pairs[pairs.kind == "positive"].drop_duplicates("text_product_id").set_index("text_product_id").fold
    named = named[named.right_photo_of.isin(fold.index)]
    matches = pd.DataFrame({"text_product_id": named.right_photo_of.to_numpy(), "photo_product_id": named.product_id.to_numpy(),
                            "label": 0, "kind": "reviewed_match", "rank": 0, "similarity": 1.0,
                            "fold": fold.loc[named.right_photo_of].to_numpy()})
    matches["split"] = "fold" + matches.fold.astype(str)
    return pd.concat([pairs, matches.astype(pairs.dtypes.to_dict())], ignore_index=True)


def _work_id(pairs_path: Path, catalog_path: Path, settings: dict) -> str:
    """Names the checkpoints of one training job: the same inputs and settings, the same folder."""
    parts = [str(Path(p).resolve()) + ":" + str(Path(p).stat().st_mtime_ns) for p in (pairs_path, catalog_path)]
    return hashlib.sha256(json.dumps([parts, settings], sort_keys=True).encode()).hexdigest()[:16]


PAIR_MODEL_SETTINGS = ("epochs", "batch_size", "lr", "weight_decay", "dim", "layers", "heads", "patience", "max_text_tokens",
                       "fusion_word_loss")


def warn_idle_settings(config: TrainConfig) -> None:
    """Say so when settings of a trained pair model are changed for a model that trains nothing (zeroshot)."""
    if config.model in models.REGISTRY and not models.REGISTRY[config.model].trainable:
        changed = [k for k in PAIR_MODEL_SETTINGS if getattr(config, k) != getattr(TrainConfig(), k)]
        if changed:
            log.warning("train.%s: no effect with the %s model, which trains nothing (fusion, dual and itm use them)",
                        ", train.".join(changed), config.model)


def run(pairs_path: Path, out: Path, config: TrainConfig | None = None, catalog_path: Path | None = None,
        reviewed: list[Path] = ()) -> tuple[Path, pd.DataFrame]:
    """Train one model per fold of pairs.parquet; save the model directory; return it and a summary. `reviewed`: review
    files whose verdicts correct the pairs and the products the claim heads learn from (`reviews`)."""
    config = config or TrainConfig()
    keep_freed_buffers()  # the claim heads' steps free and take buffers of tens of MB: reused, not mapped anew
    no_huge_pages()  # its large arrays are filled once each: a fresh huge page can cost more than the work
    warn_idle_settings(config)
    start = time.perf_counter()
    verdicts = reviews.read_verdicts(list(reviewed))  # a bad review file fails now, not after the features are read
    pairs, products, feats, made_by = load_training_data(pairs_path, catalog_path, models.reads_tokens(config.model))
    verdicts = reviews.for_catalog(verdicts, products.product_id)
    catalog_path = Path(catalog_path or made_by.get("catalog", ""))
    attrs = attribute_columns(config.attribute_cols, products, catalog_path)
    title_col = title_column(products, catalog_path)
    slots = dict(list(slots_of(products, title_col).items())[:config.title_slots]) if config.title_slots > 0 else {}
    repeats = repeating_columns(products, slots, attrs)
    if repeats:
        log.info("slots of the title left out, their column holds the same values: %s", repeats)
    slots = {name: slot for name, slot in slots.items() if name not in repeats}
    products = with_slots(products, slots)
    attrs += [name for name in slots if name not in attrs]
    photo_x = feats["inputs"]
    encoded = {a: encode_values(products[a]) for a in attrs}
    words = {}
    for column in text_columns(products, catalog_path) if config.text_words > 0 else []:
        vocabulary = mine_vocabulary(products[column], config.text_words)
        if vocabulary:
            words[column] = (vocabulary, stated_words(products[column], vocabulary))
    log.info("attribute columns: %s; slots of the title: %s; values named by %s count as claims too; words tried as claims: %s",
             [a for a in attrs if a not in slots], list(slots), title_col or "no column", {c: len(v) for c, (v, _) in words.items()})
    device = pick_device(config.device)
    row = {pid: i for i, pid in enumerate(products.product_id)}
    folds = int(pairs.fold.max()) + 1
    product_fold = pd.DataFrame({"product_id": products.product_id}).merge(
        pairs[pairs.kind == "positive"][["text_product_id", "fold"]].rename(columns={"text_product_id": "product_id"}), how="left")
    product_fold["fold"] = product_fold.fold.fillna(-1).astype(int)
    pairs = with_verdicts(pairs, verdicts) if len(verdicts) else pairs  # after the folds: a product keeps its fold
    t_rows = pairs.text_product_id.map(row).to_numpy(np.int64)
    p_rows = pairs.photo_product_id.map(row).to_numpy(np.int64)
    labels = pairs.label.to_numpy(np.int64)
    confirmed_wrong = np.flatnonzero(products.product_id.isin(set(verdicts.product_id[verdicts.verdict == reviews.WRONG])).to_numpy())
    confirmed_ok = np.flatnonzero(products.product_id.isin(set(verdicts.product_id[verdicts.verdict == reviews.OK])).to_numpy())
    settings = {**as_dict(config), "backbone": made_by.get("backbone", "offline-lite0-minilm")}
    if len(verdicts):
        settings["reviewed"] = hashlib.sha256(verdicts.to_csv(index=False).encode()).hexdigest()[:16]
    if models.learns_words(config.model) and words:
        feats["words"] = np.concatenate([word_labels(stated, len(vocabulary)) for vocabulary, stated in words.values()], 1).astype(np.uint8)
    dims = dims_of(feats) | ({"words": feats["words"].shape[1]} if "words" in feats else {})
    checkpoints = Path(out).with_name(f".{Path(out).name}.parts-{_work_id(pairs_path, catalog_path, settings)}")
    rows = (t_rows, p_rows, labels)
    fit_pairs = pairs.kind.isin(["random", "reviewed_wrong"]).to_numpy()  # a photo with an unrelated text, or confirmed wrong
    if not (pairs.kind == "random").any():  # made with no random negatives: the fit is weighed on every pair
        fit_pairs = labels == 1
    folds_of = product_fold.fold.to_numpy()
    fold_models, histories, val_logits = fit_pair_models(config, settings, dims, feats, pairs, rows, folds_of, device, checkpoints)
    del feats  # the pair models are fitted; the claim heads read their own copy (photo_x): the features go before they train
    job = HeadsJob(config, products, photo_x, dims, folds_of, encoded, title_col, slots, words)
    heads, word_heads = job.fit(confirmed_wrong)
    word_report = job.keep_predictable_words(word_heads) if words else {}
    word_heads = word_heads if job.words else []
    sources = job.sources(heads, word_heads)
    claims = job.claims(sources)
    result = exchange_weighting(claims, val_logits, rows, config.exchange_temperature)
    rounds = [{"left_out": int(len(confirmed_wrong)), "stacked_val_ap": average_precision(labels, result["stacked"])}]
    if config.leave_out_suspicious > 0 and claims.names:  # robustness: the catalog's likeliest errors do not teach the heads again
        left_out = np.union1d(np.setdiff1d(suspicious_products(result["stacked"], pairs, t_rows, config.leave_out_suspicious),
                                           confirmed_ok), confirmed_wrong)
        log.info("claim heads: leaving out the %d most suspicious products and training again", len(left_out))
        del heads, word_heads, sources, claims  # the first round's heads and readings of every photo go before the next trains
        heads, word_heads = job.fit(left_out)
        sources = job.sources(heads, word_heads if job.words else [])
        claims = job.claims(sources)
        result = exchange_weighting(claims, val_logits, rows, config.exchange_temperature)
        rounds.append({"left_out": int(len(left_out)), "stacked_val_ap": average_precision(labels, result["stacked"])})
    result |= fit_weighting(claims, val_logits, rows, fit_pairs)
    stacked = result["stacked"]
    log_probs = claims.parts[0].log_probs if encoded else {}
    attribute_accuracy = {a: float((log_probs[a].argmax(1) == codes)[codes >= 0].mean()) for a, (codes, _) in encoded.items()}
    metrics = {"folds": histories, "rounds": rounds, "out_of_fold_val_ap": average_precision(labels, val_logits),
               "stacked_val_ap": average_precision(labels, stacked), "fit_val_ap": result["fit_val_ap"], "attribute_accuracy_out_of_fold": attribute_accuracy,
               "words": word_report, "slots_filled": coverage(products, list(slots)), "pairs": int(len(pairs)),
               "head_precision": head_precision(config.head_precision, device), "reviewed": {"wrong_photo": int(len(confirmed_wrong)), "ok": int(len(confirmed_ok)),
                            "matches_named": int((pairs.kind == "reviewed_match").sum())}, "train_seconds": time.perf_counter() - start}
    model_config = {"model": config.model, "backbone": settings["backbone"], "settings": settings, "dims": dims, "folds": folds,
                    "pairs_settings": made_by, "attribute_inputs": input_sizes(photo_x)}
    judge = Judge(model_config, fold_models, sources, Weighting(result["weights"], result["bias"]),
                  Weighting(result["fit_weights"], result["fit_bias"]), dict(zip(product_fold.product_id, product_fold.fold)))
    path = judge.save(Path(out), metrics)
    shutil.rmtree(checkpoints, ignore_errors=True)
    summary = pd.DataFrame([("model", config.model), ("folds", folds), ("pairs", len(pairs)),
                            ("attribute columns", ", ".join(a for a in attrs if a not in slots) or "none"),
                            ("slots of the title", "; ".join(slots) or "none"),
                            ("words as claims", ", ".join(f"{c}: {len(v)}" for c, (v, _) in job.words.items()) or "none"),
                            ("out-of-fold validation AP (pair model)", f"{metrics['out_of_fold_val_ap']:.4f}"),
                            ("out-of-fold validation AP (with attributes)", f"{metrics['stacked_val_ap']:.4f}"),
                            ("seconds", f"{metrics['train_seconds']:.0f}")],
                           columns=["what", "value"])
    return path, summary
