"""Attribute heads: the catalog's own columns (colour, article type, ...) as labels for what a photo shows.

One small classifier per attribute column predicts the column's value from the photo alone
(`features.photo_inputs`, the `inputs` of `features.product_features`). Trained per fold, each product's photo is
read by the classifier that never saw that product, so the catalog's own errors are not
memorized. The cost of a claim "text i says colour=red" against photo j is -log p(red | photo j):
it also names the attribute a photo contradicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from .head_fitting import EPOCHS, Job, fit_together

MIN_EXAMPLES = 3  # rarer values are pooled into one "other" class


INPUT_ROWS = 4_096  # photos whose inputs are read in float32 at once: a fold's copy of them would grow with the catalog


def input_chunks(x: np.ndarray, rows: np.ndarray) -> Iterator[torch.Tensor]:
    """The inputs of the photos `rows` of `x`, in float32, `INPUT_ROWS` photos at a time."""
    for start in range(0, len(rows), INPUT_ROWS):
        yield torch.from_numpy(x[rows[start:start + INPUT_ROWS]]).float()


def input_sizes(x: dict[str, np.ndarray]) -> dict[str, int]:
    """Inputs per view: what `AttributeHeads` is built for."""
    return {view: int(values.shape[1]) for view, values in x.items()}


def rows_of(x: dict[str, np.ndarray], rows) -> dict[str, np.ndarray]:
    """The same rows of every view's inputs."""
    return {view: values[rows] for view, values in x.items()}


def encode_values(values: pd.Series, classes: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Class index per row (-1: empty or unknown); rare values share the last class, "other"."""
    values = values.astype(str).str.strip()
    if classes is None:
        counts = values[values != ""].value_counts()
        classes = sorted(counts[counts >= MIN_EXAMPLES].index) + ["other"]
    index = {c: i for i, c in enumerate(classes)}
    other = index["other"]
    codes = np.array([-1 if v == "" else index.get(v, other) for v in values], dtype=np.int64)
    return codes, classes


TOWER_COMPONENTS = 128  # the tower vector's principal directions a head reads (docs/decisions/2026-11-30-claim-heads-inputs.md)
MEMBERS = 3  # classifiers per fold, each from its own seed, their probabilities averaged: fewer chance readings
INPUT_LIMIT = 5.0  # standardized inputs are clipped to +-this: a histogram bin almost always empty has a tiny spread,
# and one photo with a few pixels in it would otherwise read tens of spreads away and be misread with confidence


class AttributeHeads(nn.Module):
    """Photo classifiers of the attribute columns, one `ViewHeads` per view of the photo, whose members' probabilities
    are averaged. The product view adds what a tower sees when the product fills the frame, which more members on the
    whole photo do not (docs/decisions/2026-11-30-claim-heads-inputs.md)."""

    def __init__(self, inputs: dict[str, int], classes: dict[str, int], dims: dict, multilabel: frozenset[str] = frozenset(),
                 members: int = MEMBERS, hidden: int = 256):
        super().__init__()
        self.columns = list(classes)
        self.views = nn.ModuleDict({view: ViewHeads(size, classes, hidden, tower=int(dims["photo"]), detail=int(dims.get("detail", 0)),
                                                    members=members, multilabel=multilabel)
                                    for view, size in inputs.items()})

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Log of the mean probability over every view's members, per column."""
        each = [view.member_outputs(x[name]) for name, view in self.views.items()]
        flat = [member for members in each for member in members]
        return {name: torch.logsumexp(torch.stack([m[name] for m in flat]), 0) - np.log(len(flat)) for name in self.columns}

    def fit(self, x: dict[str, np.ndarray], codes: dict[str, np.ndarray], epochs: int = EPOCHS, seed: int = 0) -> "AttributeHeads":
        fit_together(self.jobs(x, np.arange(len(next(iter(x.values())))), codes), epochs, self.multilabel, seed)
        return self.eval()

    def jobs(self, x: dict[str, np.ndarray], rows: np.ndarray, codes: dict[str, np.ndarray], reductions: dict[str, dict] | None = None,
             dtype: torch.dtype = torch.float32) -> list[Job]:
        """Every view's members as networks to train (`head_fitting`) on the photos `rows` of `x` (`codes`: theirs),
        each view's inputs standardized on them, in `dtype`. `reductions`: per view, the reduction other heads fitted on
        the same rows (`ViewHeads.jobs`), filled where empty."""
        reductions = {} if reductions is None else reductions
        return [job for name, view in self.views.items() for job in view.jobs(x[name], rows, codes, reductions.setdefault(name, {}), dtype)]

    @property
    def multilabel(self) -> frozenset[str]:
        return next(iter(self.views.values())).multilabel

    @torch.no_grad()
    def log_probs(self, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: v.numpy() for name, v in self({view: torch.from_numpy(values).float() for view, values in x.items()}).items()}

    def keep_outputs(self, name: str, kept: np.ndarray) -> "AttributeHeads":
        """Only the outputs `kept` of a multi-label column, in every member of every view; none kept drops the column."""
        index = torch.from_numpy(np.asarray(kept, dtype=np.int64))
        for view in self.views.values():
            for member in view.members:
                old = member["heads"][name]
                if len(index) == 0:
                    del member["heads"][name]
                    continue
                new = nn.Linear(old.in_features, len(index))
                with torch.no_grad():
                    new.weight.copy_(old.weight[index])
                    new.bias.copy_(old.bias[index])
                member["heads"][name] = new
            if len(index) == 0:
                view.columns.remove(name)
        if len(index) == 0:
            self.columns.remove(name)
        return self


class ViewHeads(nn.Module):
    """Photo classifiers of the attribute columns on one view: `members` small networks (a shared trunk, one head per column),
    trained alike from different seeds, whose probabilities are averaged: one network's confident misreadings
    are what make a clean pair of look-alikes seem better exchanged. A column in `multilabel` is a set of yes/no labels
    (the words a text states): its log-probabilities are [rows, labels, 2], no then yes.

    The first `tower` inputs (the photo tower's pooled vector) and the last `detail` ones (its earlier stages) are each
    reduced to their top principal directions on the training photos: 1,280 object-recognition dimensions otherwise
    drown the colour inputs, and a small catalog's few photos cannot teach 744 earlier-stage inputs
    (docs/decisions/2026-11-30-claim-heads-inputs.md)."""

    def __init__(self, inputs: int, classes: dict[str, int], hidden: int = 256, tower: int = 0, detail: int = 0,
                 members: int = MEMBERS, multilabel: frozenset[str] = frozenset()):
        super().__init__()
        self.multilabel = frozenset(multilabel)
        kept = {"tower": min(TOWER_COMPONENTS, tower), "detail": min(TOWER_COMPONENTS, detail)}
        reduced = inputs - tower - detail + sum(kept.values())
        self.columns = list(classes)
        for name, size in (("tower", tower), ("detail", detail)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_basis", torch.zeros(kept[name], size))
        self.register_buffer("mean", torch.zeros(reduced))
        self.register_buffer("scale", torch.ones(reduced))
        self.members = nn.ModuleList(nn.ModuleDict({
            "trunk": nn.Sequential(nn.Linear(reduced, hidden), nn.GELU(), nn.Dropout(0.3)),
            "heads": nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in classes.items()})}) for _ in range(members))

    def blocks(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The inputs split: tower vector, the rest, earlier stages."""
        tower, detail = len(self.tower_mean), len(self.detail_mean)
        return x[:, :tower], x[:, tower:x.shape[1] - detail], x[:, x.shape[1] - detail:]

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        tower, rest, detail = self.blocks(x)
        return torch.cat([(tower - self.tower_mean) @ self.tower_basis.T, rest, (detail - self.detail_mean) @ self.detail_basis.T], 1)

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.reduce(x) - self.mean) / self.scale).clamp(-INPUT_LIMIT, INPUT_LIMIT)

    def member_log_probs(self, member: nn.ModuleDict, z: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = member["trunk"](z)
        return {name: yes_no(head(shared)) if name in self.multilabel else torch.log_softmax(head(shared), -1)
                for name, head in member["heads"].items()}

    def member_outputs(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Each member's log-probabilities per column."""
        z = self.standardized(x)
        return [self.member_log_probs(member, z) for member in self.members]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Log of the members' mean probability per column."""
        each = self.member_outputs(x)
        return {name: torch.logsumexp(torch.stack([e[name] for e in each]), 0) - np.log(len(each)) for name in self.columns}

    def fit(self, x: np.ndarray, codes: dict[str, np.ndarray], epochs: int = EPOCHS, seed: int = 0) -> "ViewHeads":
        fit_together(self.jobs(x, np.arange(len(x)), codes), epochs, self.multilabel, seed)
        return self.eval()

    REDUCTION = ("tower_mean", "tower_basis", "detail_mean", "detail_basis", "mean", "scale")

    def jobs(self, x: np.ndarray, rows: np.ndarray, codes: dict[str, np.ndarray], reduction: dict[str, torch.Tensor] | None = None,
             dtype: torch.dtype = torch.float32) -> list[Job]:
        """Fit the inputs' reduction and standardization on the photos `rows` of `x`; the members as networks to train
        on them (`codes`: theirs), their inputs in `dtype` (none without columns). `reduction`: the same fitted by other
        heads of the same rows (their `REDUCTION` buffers), taken as they are; where empty, filled with this one's: the
        attribute and word heads of one training's photos fit their inputs' principal directions once
        (docs/decisions/2026-12-02-train-work-done-once.md)."""
        if not self.columns:
            return []
        if reduction:
            for name in self.REDUCTION:
                getattr(self, name).copy_(reduction[name])
        else:
            self.fit_reduction(x, rows)
            if reduction is not None:
                reduction.update({name: getattr(self, name).clone() for name in self.REDUCTION})
        z = torch.empty((len(rows), len(self.mean)), dtype=dtype)
        start = 0
        for chunk in input_chunks(x, rows):
            z[start:start + len(chunk)] = self.standardized(chunk)
            start += len(chunk)
        y = {name: torch.from_numpy(c) for name, c in codes.items()}
        return [Job(member, z, y) for member in self.members]

    def fit_reduction(self, x: np.ndarray, rows: np.ndarray) -> None:
        """The tower vector's and earlier stages' means and principal directions on the photos `rows` of `x`, then the
        reduced inputs' means and spreads: sums over `INPUT_ROWS` photos at a time, in float64, in three passes."""
        tower, detail, inputs = len(self.tower_mean), len(self.detail_mean), x.shape[1]
        blocks = [(columns, mean, basis) for columns, mean, basis in ((slice(0, tower), self.tower_mean, self.tower_basis),
                  (slice(inputs - detail, inputs), self.detail_mean, self.detail_basis)) if len(mean)]
        sums = [0.0] * len(blocks)
        for chunk in input_chunks(x, rows):
            sums = [total + chunk[:, columns].sum(0, dtype=torch.float64) for total, (columns, _, _) in zip(sums, blocks)]
        for total, (_, mean, _) in zip(sums, blocks):
            mean.copy_(total / len(rows))
        grams = [0.0] * len(blocks)
        for chunk in input_chunks(x, rows):
            parts = [chunk[:, columns] - mean for columns, mean, _ in blocks]
            grams = [gram + (part.T @ part).double() for gram, part in zip(grams, parts)]
        for (columns, mean, basis), gram in zip(blocks, grams):
            if len(rows) < len(mean):  # fewer photos than inputs (a small catalog): the directions of the rows' own decomposition
                centred = torch.cat([chunk[:, columns] for chunk in input_chunks(x, rows)]) - mean
                directions = torch.linalg.svd(centred, full_matrices=False).Vh
            else:
                directions = principal_directions(gram)
            basis.zero_()  # fewer photos than directions: the rest stay zero
            basis[:min(len(basis), len(directions))] = directions[:len(basis)]
        total = squares = 0.0
        for chunk in input_chunks(x, rows):
            reduced = self.reduce(chunk).double()
            total, squares = total + reduced.sum(0), squares + (reduced * reduced).sum(0)
        mean = total / len(rows)
        self.mean.copy_(mean)  # the spread with Bessel's correction, as torch's std
        self.scale.copy_(((squares - len(rows) * mean * mean) / max(len(rows) - 1, 1)).clamp(min=0).sqrt() + 1e-6)

    @torch.no_grad()
    def log_probs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: v.numpy() for name, v in self(torch.from_numpy(x).float()).items()}


def principal_directions(gram: torch.Tensor) -> torch.Tensor:
    """[inputs, inputs]: the directions of largest variance of centred rows, largest first, from the eigenvectors of
    their Gram matrix (a fifth of the time of a singular value decomposition of the rows, which need not be held)."""
    _, vectors = torch.linalg.eigh(gram.float())  # ascending
    return vectors.flip(1).T


def yes_no(logits: torch.Tensor) -> torch.Tensor:
    """[rows, labels] logits of yes/no labels as [rows, labels, 2] log-probabilities: no, then yes."""
    return torch.stack([nn.functional.logsigmoid(-logits), nn.functional.logsigmoid(logits)], -1)


def claim_costs(log_probs: dict[str, np.ndarray], codes: dict[str, np.ndarray], text_rows: np.ndarray,
                photo_rows: np.ndarray, also_stated: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """[pairs, attributes in the order of `codes`]: -log p(value stated by text row | photo row); 0 where the text
    states none. Where the text also states another value of a column (`also_stated`: its title names one,
    `title_values`), the claim is either value: -log(p(one) + p(other))."""
    out = np.zeros((len(text_rows), len(codes)), dtype=np.float64)
    for k, name in enumerate(codes):
        stated = codes[name][text_rows]
        known = stated >= 0
        out[known, k] = -log_probs[name][photo_rows[known], stated[known]]
        if also_stated and name in also_stated:
            other = also_stated[name][text_rows]
            both = known & (other >= 0)
            out[both, k] = -np.logaddexp(log_probs[name][photo_rows[both], stated[both]], log_probs[name][photo_rows[both], other[both]])
    return out


def title_values(titles: pd.Series, codes: np.ndarray, classes: list[str]) -> np.ndarray:
    """Per product, the class of the one value of a column its title names (whole words, any case, the longest name
    first: "Navy Blue" before "Blue") when that differs from the column's own value; -1 where the title names none,
    several, or the same. A title "Check Green Shirt" beside a colour column "Blue" claims either colour: the product
    whose photo shows one of them is not a wrong photo (docs/decisions/2026-12-01-title-names-another-value.md)."""
    names = sorted((c for c in classes if c != "other"), key=len, reverse=True)
    out = np.full(len(titles), -1, dtype=np.int64)
    if not names:
        return out
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b", re.IGNORECASE)
    index = {c.lower(): i for i, c in enumerate(classes)}
    for k, title in enumerate(titles.fillna("").astype(str)):
        named = {m.lower() for m in pattern.findall(title)}
        if len(named) == 1:
            out[k] = index[named.pop()]
    out[out == codes] = -1
    return out


def titles_also_state(titles: pd.Series | None, codes: dict[str, np.ndarray], classes: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per attribute column, the other value each product's title names (`title_values`); empty without titles."""
    if titles is None:
        return {}
    return {name: title_values(titles, codes[name], classes[name]) for name in codes}


def softened(log_probs: dict[str, np.ndarray], temperature: float) -> dict[str, np.ndarray]:
    """Each column's log-probabilities at a temperature: log_softmax(log p / T). T > 1 makes a confident reading cost a
    claim less, without changing which value a photo reads as (docs/decisions/2026-11-30-exchange-temperature.md)."""
    if temperature == 1.0:
        return log_probs
    out = {}
    for name, values in log_probs.items():
        scaled = values.astype(np.float64) / temperature
        out[name] = (scaled - np.logaddexp.reduce(scaled, axis=-1, keepdims=True)).astype(np.float32)
    return out


READ_ROWS = 1_024  # photos the heads read at once: a fold's inputs and every member's outputs at once grow with the catalog


def out_of_fold_log_probs(fold_heads: list[AttributeHeads], product_folds: np.ndarray, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each product's photo read by the heads of the fold it was held out in (all folds averaged for a new product),
    `READ_ROWS` photos at a time."""
    out: dict[str, np.ndarray] = {}
    for f, heads in enumerate(fold_heads):
        chosen = np.flatnonzero((product_folds == f) | (product_folds < 0))
        if not heads.columns:
            continue
        for s in range(0, len(chosen), READ_ROWS):
            rows = chosen[s:s + READ_ROWS]
            weight = np.where(product_folds[rows] < 0, 1.0 / len(fold_heads), 1.0)[:, None]
            for name, values in heads.log_probs(rows_of(x, rows)).items():
                out.setdefault(name, np.zeros((len(product_folds), *values.shape[1:]), dtype=np.float32))[rows] += \
                    weight.reshape(-1, *[1] * (values.ndim - 1)) * values
    return out
