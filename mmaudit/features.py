"""Feature extraction with an on-disk cache, shared by make-negatives, train and score.

Features are stored per backbone in shards (`.npz`), keyed by the photo file's SHA-256 or the
text's hash, so no stage computes the same features twice, a crashed run resumes from the
shards already written, and a changed product recomputes only itself. Only the groups of arrays
a model reads are computed and stored (`feature_keys.GROUPS`): the tokens, about ten times the
vectors' size, only for a model that attends over them.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from PIL import Image

from . import backbones, distributed
from .backbones import Backbone, PhotoFeatures
from .config import EngineConfig
from .devices import pick_device
from .errors import MMAuditError
from .feature_keys import GROUPS, PHOTO_KIND, TEXT_KIND, TOKENS, VECTORS, VIEWS
from .files import atomic_path
from .images import ImageProblem, as_rgb, channel_extremes, light_background, load_rgb, product_view
from .progress import bar, log

SHARD_SIZE = 512  # features per cache file: the unit a crashed run redoes
EXTRACT_BATCH = 8  # photos/s peak at 8 on 2 cores, texts/s within 5% of their best (BENCHMARKS.md, bench/features_speed.py)
GPU_EXTRACT_BATCH = 256  # on an H200: photos/s 1.5x and texts/s 4.6x those at 8 (BENCHMARKS.md, "The audit on a GPU")


def extraction_batch(backbone_config: dict, batch_size: int = 0) -> int:
    """Photos and texts per call of the towers: `batch_size`, or where 0 the measured best of where they run."""
    return batch_size or (GPU_EXTRACT_BATCH if pick_device(backbone_config.get("device", "")).type == "cuda" else EXTRACT_BATCH)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def palettes(images: list[Image.Image]) -> np.ndarray:
    """[photos, 359]: colour histograms of each photo's product pixels (light, unsaturated background left out),
    square-rooted, coarse then fine. Coarse: 18 hues x 3 brightness levels, 3 saturation levels, 6 grey levels. Fine: 24
    hues x 3 saturation levels x 4 brightness levels and 8 grey levels, with pale tints (cream, beige) counted as
    colours, not greys. Names like maroon / red, navy / blue or cream / white differ here more than in any tower trained
    for object labels (docs/decisions/2026-11-30-claim-heads-inputs.md). The photos are counted at once, each in bins of
    its own: numpy's cost per call on one photo's 4,096 pixels made counting them one at a time 1.3x as long
    (bench/photo_steps.py); most of what is left is Pillow's 64-pixel resize."""
    smalls = [as_rgb(image).resize((64, 64), Image.Resampling.BOX) for image in images]
    if not smalls:
        return np.zeros((0, PALETTE_BINS), np.float16)
    hsv = np.stack([np.asarray(small.convert("HSV")) for small in smalls]).reshape(len(smalls), -1, 3).astype(np.float32) / 255.0
    rgb = np.stack([np.asarray(small) for small in smalls]).reshape(len(smalls), -1, 3).astype(np.float32) / 255.0
    product = ~light_background(*channel_extremes(rgb))
    product[product.mean(1) < 0.05] = True  # not a light background: every pixel counts
    photo = np.nonzero(product)[0]  # each counted pixel's photo, in the order hsv[product] lists them
    h, s, v = hsv[product].T
    return np.concatenate([coarse_histogram(h, s, v, photo, len(smalls)), fine_histogram(h, s, v, photo, len(smalls))], 1)


def coarse_histogram(h: np.ndarray, s: np.ndarray, v: np.ndarray, photo: np.ndarray, photos: int) -> np.ndarray:
    """[photos, 63] of the pixels' hue, saturation and value (each pixel of photo `photo`)."""
    grey = s < 0.15
    colour = ~grey
    hues = counts_in(whole_bins(h[colour] * 18 % 18) * 3 + whole_bins(np.minimum(v[colour] * 3, 2.999)), 18 * 3, photo[colour], photos)
    saturation = counts_in(whole_bins(np.minimum(s[colour] * 3, 2.999)), 3, photo[colour], photos)
    greys = counts_in(unit_bins(v[grey], 6), 6, photo[grey], photos)
    return normalized(np.concatenate([hues, saturation, greys], 1))


def fine_histogram(h: np.ndarray, s: np.ndarray, v: np.ndarray, photo: np.ndarray, photos: int) -> np.ndarray:
    """[photos, 296], as `coarse_histogram`."""
    grey = s < 0.1
    colour = ~grey
    hue, saturation, value = whole_bins(h[colour] * 24 % 24), np.digitize(s[colour], [0.35, 0.65]), whole_bins(np.minimum(v[colour] * 4, 3.999))
    hues = counts_in((hue * 3 + saturation) * 4 + value, 24 * 3 * 4, photo[colour], photos)
    greys = counts_in(unit_bins(v[grey], 8), 8, photo[grey], photos)
    return normalized(np.concatenate([hues, greys], 1))


PALETTE_BINS = 18 * 3 + 3 + 6 + 24 * 3 * 4 + 8


# The histograms as bin indices counted with np.bincount: numpy's histogram2d and histogramdd are general and many
# times slower on a few thousand pixels; these give the same counts (tests/test_palette.py at every 8-bit level,
# bench/photo_steps.py on real photos).
def whole_bins(values: np.ndarray) -> np.ndarray:
    """The bin of each value in [0, n): its whole part (bins of width 1 from 0, as np.histogram with integer edges)."""
    return values.astype(np.int64)


def unit_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """The bin of each value in [0, 1] among `bins` equal bins, 1 in the last, against the same edges as np.histogram."""
    return np.minimum(np.searchsorted(np.linspace(0, 1, bins + 1), values, side="right") - 1, bins - 1)


def counts_in(index: np.ndarray, bins: int, photo: np.ndarray, photos: int) -> np.ndarray:
    """[photos, bins]: how many of each photo's values (`index`: their bins; `photo`: their photos) fall in each bin."""
    return np.bincount(photo * bins + index, minlength=photos * bins).reshape(photos, bins)


def normalized(counts: np.ndarray) -> np.ndarray:
    """Each photo's counts (the last axis) as square roots of their shares."""
    counts = counts.astype(np.float32)
    return np.sqrt(counts / np.maximum(counts.sum(-1, keepdims=True), 1.0)).astype(np.float16)


def colour_stats(image: Image.Image, regions: int) -> np.ndarray:
    """Mean and standard deviation of R, G, B per cell of the tower's region grid, in [0, 1]:
    the colour detail a tower trained for object labels blurs away. One row per region token; a
    leading whole-photo token (a transformer's [CLS]) gets the whole photo's statistics. From each cell's sums of the
    pixels and of their squares in float64 (exact for 8-bit levels): half the time of numpy's mean and std per
    cell in float32, and the same values to float16 rounding (bench/photo_steps.py)."""
    grid = math.isqrt(regions)
    side = grid * 8
    pixels = np.asarray(as_rgb(image).resize((side, side), Image.Resampling.BOX), dtype=np.float64) / 255.0
    powers = np.concatenate([pixels, pixels * pixels], 2)  # [side, side, 6]: R, G, B, then their squares
    cells = powers.reshape(grid, 8, side * 6).sum(1).reshape(grid, grid, 8, 6).sum(2).reshape(grid ** 2, 6)
    moments = np.concatenate([cells.sum(0, keepdims=True) / side ** 2, cells / 64])  # the whole photo's first
    mean = moments[:, :3]
    std = np.sqrt(np.maximum(moments[:, 3:] - mean * mean, 0.0))  # a flat cell's variance may round below 0
    stats = np.concatenate([mean, std], 1)
    return np.concatenate([np.repeat(stats[:1], regions - grid ** 2, 0), stats[1:]]).astype(np.float16)


DECODED_SIDE = 2  # photos are decoded at least this many times the tower's input side (`images.decode`): the product
# view, cut from about half a photo, still has as many pixels as the tower reads


def decoded_side(backbone: Backbone) -> int:
    """The shorter side a photo is decoded at, at least, for `backbone`'s photo tower."""
    return DECODED_SIDE * backbone.image_size


def load_photos(paths: list[str], least_side: int = 0) -> tuple[list[int], list[Image.Image], dict[int, str]]:
    """Decode a batch of photo files (`least_side`: `images.decode`): (positions that loaded, their photos, position ->
    why one did not)."""
    images, good, failed = [], [], {}
    for position, path in enumerate(paths):
        try:
            images.append(load_rgb(Path(path), least_side=least_side))
            good.append(position)
        except ImageProblem as problem:
            failed[position] = problem.detail
    return good, images, failed


@dataclass
class PreparedPhotos:
    """Decoded photos ready for the towers: each view's photos (`VIEWS` prefix -> photos; the product view only where
    the vectors are wanted) and, where the tower's region count was known when they were prepared, each view's colour
    statistics and palettes (the arrays of `view_statistics`, named as in the cache)."""
    views: dict[str, list[Image.Image]]
    statistics: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.views[VIEWS["whole"]])

    def statistics_for(self, regions: int) -> dict[str, np.ndarray]:
        """The colour statistics and palettes of every view, for a tower of `regions` region tokens."""
        if not self.statistics or self.statistics[VIEWS["whole"] + "colour"].shape[1] != regions:
            whole = view_statistics(self.views[VIEWS["whole"]], regions)
            self.statistics = {VIEWS["whole"] + name: values for name, values in whole.items()}
            if VIEWS["product"] in self.views:
                self.statistics |= {VIEWS["product"] + name: values for name, values in
                                    self.product_arrays(whole, lambda views: view_statistics(views, regions)).items()}
        return self.statistics

    def product_arrays(self, whole: dict[str, np.ndarray], compute: Callable[[list[Image.Image]], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The product views' arrays: `compute` of the views cut out of their photo; a view that is its photo itself
        (`images.product_view` found no light background to cut away: a photo not shot on one, or filled by its
        product) shares the photo's `whole` arrays, not computed twice. In a catalog of such photos the photo tower
        runs once a photo, not twice."""
        photos, views = self.views[VIEWS["whole"]], self.views[VIEWS["product"]]
        cut = [k for k, (photo, view) in enumerate(zip(photos, views)) if view is not photo]
        if len(cut) == len(views):
            return compute(views)
        arrays = {name: values.copy() for name, values in whole.items()}
        if cut:
            for name, values in compute([views[k] for k in cut]).items():
                arrays[name][cut] = values
        return arrays


def prepare_photos(images: list[Image.Image], groups: tuple[str, ...], regions: int | None = None) -> PreparedPhotos:
    """The views the towers encode, and with `regions` their colour statistics and palettes (work that needs no tower,
    which `photo_batches` does while the towers encode another batch)."""
    views = {VIEWS["whole"]: images} | ({VIEWS["product"]: [product_view(im) for im in images]} if VECTORS in groups else {})
    photos = PreparedPhotos(views)
    if regions is not None and VECTORS in groups:
        photos.statistics_for(regions)
    return photos


def view_statistics(images: list[Image.Image], regions: int) -> dict[str, np.ndarray]:
    """Colour per region and colour histogram of one view's photos."""
    return {"colour": np.stack([colour_stats(im, regions) for im in images]), "palette": palettes(images)}


def loaded_and_prepared(paths: list[str], groups: tuple[str, ...], regions: int | None,
                        least_side: int) -> tuple[list[int], PreparedPhotos, dict[int, str]]:
    good, images, failed = load_photos(paths, least_side)
    return good, prepare_photos(images, groups, regions), failed


def photo_arrays(backbone: Backbone, paths: list[str], groups: tuple[str, ...]) -> tuple[list[int], dict[str, np.ndarray], dict[int, str]]:
    """Features of a batch of photo files: (positions that loaded, their arrays, position -> why one did not)."""
    good, photos, failed = loaded_and_prepared(paths, groups, None, decoded_side(backbone))
    return (good, image_arrays(backbone, photos, groups), failed) if good else ([], {}, failed)


def photo_batches(backbone: Backbone, groups: tuple[str, ...], keys: list[str], paths: list[str],
                  batch_size: int, workers: int = 0) -> Iterator[tuple[list[str], dict[str, np.ndarray], dict[str, str], int]]:
    """(keys computed, their arrays, key -> problem, rows done) per batch of photo files, in order, the same arrays as
    `photo_arrays`. Each batch is decoded and prepared (product views, colour statistics, palettes) before the towers
    encode it: in this thread with `workers` 0, else in `workers` threads ahead of the towers, each its own batch."""
    regions: int | None = None  # the tower's region count, known from its first batch

    def prepare(start: int) -> tuple[list[int], PreparedPhotos, dict[int, str]]:
        return loaded_and_prepared(paths[start:start + batch_size], groups, regions, decoded_side(backbone))

    starts = list(range(0, len(keys), batch_size))
    for start, (good, photos, failed) in zip(starts, prepared_in_turn(prepare, starts, workers)):
        arrays = image_arrays(backbone, photos, groups) if good else {}
        if "colour" in arrays:
            regions = arrays["colour"].shape[1]
        batch = keys[start:start + batch_size]
        yield [batch[p] for p in good], arrays, {batch[p]: detail for p, detail in failed.items()}, len(batch)


def prepared_in_turn(prepare: Callable[[int], tuple], starts: list[int], workers: int) -> Iterator[tuple]:
    """`prepare(start)` of each start, in order: each when it is wanted with `workers` 0, else `workers` threads
    preparing the next ones meanwhile."""
    if workers <= 0:
        yield from map(prepare, starts)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="mmaudit-photos") as pool:
        preparing = deque(pool.submit(prepare, start) for start in starts[:workers])
        for index in range(len(starts)):
            prepared = preparing.popleft().result()
            if index + len(preparing) + 1 < len(starts):
                preparing.append(pool.submit(prepare, starts[index + len(preparing) + 1]))
            yield prepared


def photo_workers(backbone: Backbone) -> int:
    """Threads decoding photos ahead of the towers, by default: none where the towers run on the CPU (they keep its
    cores busy: a thread beside them made the photos' work 1.00-1.09x as long on 2 cores, BENCHMARKS.md, "Speed"), else
    one per CPU core but the one driving the GPU, at most 8 (each holds a batch of decoded photos)."""
    device = getattr(backbone, "device", None)
    if device is None or torch.device(device).type == "cpu":
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def image_arrays(backbone: Backbone, photos: PreparedPhotos, groups: tuple[str, ...] = (VECTORS,)) -> dict[str, np.ndarray]:
    """The cache's arrays of prepared photos, of `groups`: the vectors of the whole photo and of the product view
    (`images.product_view`, arrays named product_*) with their colour statistics, and the tokens (the whole photo's
    region tokens)."""
    whole = backbone.encode_photos(photos.views[VIEWS["whole"]])
    if VECTORS not in groups:
        return {"regions": whole.regions.astype(np.float16)}
    arrays = photos.statistics_for(whole.regions.shape[1]).copy()
    vectors = photo_vectors(whole)
    # the product views a batch of their own: the towers are slower per photo in larger batches
    encoded = {VIEWS["whole"]: vectors, VIEWS["product"]: photos.product_arrays(vectors, lambda views: photo_vectors(backbone.encode_photos(views)))}
    for prefix, named in encoded.items():
        arrays |= {prefix + name: values for name, values in named.items()}
    return arrays | ({"regions": whole.regions.astype(np.float16)} if TOKENS in groups else {})


def photo_vectors(out: PhotoFeatures) -> dict[str, np.ndarray]:
    """The cache's vectors of a view's photos: the pooled vector and, from a backbone that gives them, the earlier stages."""
    return {"pooled": out.pooled.astype(np.float32)} | ({"detail": out.detail.astype(np.float16)} if out.detail is not None else {})


def text_arrays(backbone: Backbone, texts: list[str], groups: tuple[str, ...] = (VECTORS,)) -> dict[str, np.ndarray]:
    """Features of a batch of texts, of `groups`: the pooled vector; the token states, their mask and (from backbones
    that give them) the token ids."""
    out = backbone.encode_texts(texts)
    arrays = {"pooled": out.pooled.astype(np.float32)} if VECTORS in groups else {}
    if TOKENS in groups:
        arrays |= {"tokens": out.tokens.astype(np.float16), "mask": out.mask} | ({"ids": out.ids} if out.ids is not None else {})
    return arrays


def encode(backbone: Backbone, kind: str, groups: tuple[str, ...], keys: list[str],
           items: list[str]) -> tuple[list[str], dict[str, np.ndarray], dict[str, str]]:
    """One batch of either kind (items: photo paths or texts): (keys computed, their arrays of `groups`, key -> problem)."""
    if kind == PHOTO_KIND:
        good, arrays, failed = photo_arrays(backbone, items, groups)
        return [keys[p] for p in good], arrays, {keys[p]: detail for p, detail in failed.items()}
    return keys, text_arrays(backbone, items, groups), {}


class FeatureStore:
    """Cached features of one backbone; `computed` counts the items (photos, texts) this process had to compute.

    The work runs here (`engine` None or local) or on a Ray cluster (`engine.name == "ray"`); either way
    this process writes the shards, so both engines fill one cache and a rerun resumes from it."""

    def __init__(self, root: Path, backbone_config: dict, shard_size: int | None = None, engine: EngineConfig | None = None,
                 load_backbone: Callable[[], Backbone] | None = None):
        self.root = Path(root) / backbone_config["name"]
        self.backbone_config = backbone_config
        self.load_backbone = load_backbone or (lambda: backbones.build(backbone_config))
        self.shard_size = shard_size or SHARD_SIZE
        self.engine = engine or EngineConfig()
        self.computed = {kind: 0 for kind in GROUPS}
        self._backbone: Backbone | None = None
        self._shards: dict[str, dict[Path, tuple[list[str], set[str]]]] = {}
        self._index: dict[tuple[str, str], dict[str, tuple[Path, int]]] = {}

    @property
    def backbone(self) -> Backbone:
        if self._backbone is None:
            self._backbone = self.load_backbone()
        return self._backbone

    def _folder(self, kind: str) -> Path:
        return self.root / kind

    def shards(self, kind: str) -> dict[Path, tuple[list[str], set[str]]]:
        """Each shard of a kind, oldest first: (its keys, the names of the arrays it holds)."""
        if kind not in self._shards:
            folder = self._folder(kind)
            self._shards[kind] = {}
            for shard in sorted(folder.glob("*.npz")) if folder.exists() else []:  # named by the time written
                with np.load(shard) as data:
                    self._shards[kind][shard] = ([str(k) for k in data["keys"]], set(data.files))
        return self._shards[kind]

    def index(self, kind: str, group: str = VECTORS) -> dict[str, tuple[Path, int]]:
        """key -> (shard, row) of the newest shard holding the key's arrays of `group`."""
        if (kind, group) not in self._index:
            marker = GROUPS[kind][group][0]
            self._index[(kind, group)] = {key: (shard, row) for shard, (keys, names) in self.shards(kind).items()
                                          if marker in names for row, key in enumerate(keys)}
        return self._index[(kind, group)]

    def write_shard(self, kind: str, keys: list[str], arrays: dict[str, np.ndarray]) -> None:
        """Store the arrays of `keys` (of one group or both) as one new shard; the newest shard of a key wins."""
        path = self._folder(kind) / f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}.npz"
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, keys=np.array(keys), **arrays)
        self.shards(kind)[path] = (keys, set(arrays) | {"keys"})
        for group, names in GROUPS[kind].items():
            if names[0] in arrays:
                self.index(kind, group).update({key: (path, row) for row, key in enumerate(keys)})
        self.computed[kind] += len(keys)

    def ensure_photos(self, photos: dict[str, str], batch_size: int = 0, groups: tuple[str, ...] = (VECTORS,)) -> dict[str, str]:
        """Compute the features of `groups` of photos (sha256 -> path) not in the cache; return the ones that failed."""
        return self.ensure(PHOTO_KIND, photos, batch_size, groups)

    def ensure_texts(self, texts: dict[str, str], batch_size: int = 0, groups: tuple[str, ...] = (VECTORS,)) -> None:
        """Compute the features of `groups` of texts (key -> text) not in the cache."""
        self.ensure(TEXT_KIND, texts, batch_size, groups)

    def ensure(self, kind: str, items: dict[str, str], batch_size: int, groups: tuple[str, ...]) -> dict[str, str]:
        """Compute each item's groups of arrays that the cache lacks, the items lacking the same groups together
        (one forward pass gives both groups), `batch_size` at a time (0: `extraction_batch`); return key -> problem."""
        batch_size = extraction_batch(self.backbone_config, batch_size)
        lacking: dict[tuple[str, ...], list[str]] = {}
        for key in items:
            missing = tuple(group for group in groups if key not in self.index(kind, group))
            if missing:
                lacking.setdefault(missing, []).append(key)
        failed: dict[str, str] = {}
        for missing, todo in lacking.items():
            failed |= self._run(kind, missing, todo, items, batch_size)
        return failed

    def _batches(self, kind: str, groups: tuple[str, ...], todo: list[str], items: dict[str, str], batch_size: int):
        """(keys computed, their arrays, key -> problem, rows done) per batch, computed here or on the Ray cluster."""
        if self.engine.name == "ray":
            yield from extract_on_ray(self.engine, self.backbone_config, kind, groups, todo, [items[k] for k in todo], batch_size)
            return
        if kind == PHOTO_KIND:
            workers = self.engine.photo_workers or photo_workers(self.backbone)
            yield from photo_batches(self.backbone, groups, todo, [items[k] for k in todo], batch_size, workers)
            return
        for start in range(0, len(todo), batch_size):
            keys = todo[start:start + batch_size]
            yield encode(self.backbone, kind, groups, keys, [items[k] for k in keys]) + (len(keys),)

    def _run(self, kind: str, groups: tuple[str, ...], todo: list[str], items: dict[str, str], batch_size: int) -> dict[str, str]:
        """Compute the `groups` of `todo`, writing a shard per `shard_size` results; return key -> problem."""
        log.info("%s features (%s): %d to compute (%s engine)", kind, " and ".join(groups), len(todo), self.engine.name)
        failed: dict[str, str] = {}
        start, done = time.perf_counter(), 0
        shard_keys: list[str] = []
        parts: list[dict] = []
        with bar() as progress:
            task = progress.add_task(f"{kind} {' and '.join(groups)}", total=len(todo), rate="")
            for keys, arrays, problems, count in self._batches(kind, groups, todo, items, batch_size):
                failed.update(problems)
                if keys:
                    shard_keys += keys
                    parts.append(arrays)
                if len(shard_keys) >= self.shard_size:
                    self.write_shard(kind, shard_keys, {n: np.concatenate([p[n] for p in parts]) for n in parts[0]})
                    shard_keys, parts = [], []
                done += count
                progress.update(task, completed=done, rate=f"{done / (time.perf_counter() - start):.1f}/s")
            if shard_keys:
                self.write_shard(kind, shard_keys, {n: np.concatenate([p[n] for p in parts]) for n in parts[0]})
        return failed

    def load_by_shard(self, kind: str, keys: list[str], groups: tuple[str, ...] = (VECTORS,)) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """The cached arrays of `groups` of `keys`, a shard at a time: (positions in `keys`, each array's rows for them),
        each shard read once; every key must be in the cache."""
        for group in groups:
            index, names = self.index(kind, group), GROUPS[kind][group]
            by_shard: dict[Path, list[tuple[int, int]]] = {}
            for position, key in enumerate(keys):
                shard, row = index[key]
                by_shard.setdefault(shard, []).append((position, row))
            for shard, places in by_shard.items():
                positions, rows = (list(values) for values in zip(*places))
                with np.load(shard) as data:
                    yield np.array(positions), {name: data[name][rows] for name in names if name in data.files}

    def load(self, kind: str, keys: list[str], groups: tuple[str, ...] = (VECTORS,)) -> dict[str, np.ndarray]:
        """Stack the cached arrays of `groups` of `keys`, in order; every key must be in the cache."""
        out: dict[str, np.ndarray] = {}
        for positions, arrays in self.load_by_shard(kind, keys, groups):
            for name, values in arrays.items():
                out.setdefault(name, np.empty((len(keys),) + values.shape[1:], dtype=values.dtype))[positions] = values
        return out


def open_store(catalog_path: Path, backbone: str, cache_dir: str = "", engine: EngineConfig | None = None) -> FeatureStore:
    """The feature cache of a backbone: `cache_dir`, or a `features` folder beside the catalog."""
    root = Path(cache_dir) if cache_dir else Path(catalog_path).parent / "features"
    return FeatureStore(root, backbones.get_config(backbone), engine=engine)  # an unknown name fails here, before any work


def photo_inputs(arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    """One view's parts of what the claim heads see of a photo, in their order: tower vector, colour per region, colour
    histogram, and where the backbone gives them, the product's pixels in the tower's earlier stages (texture and
    colour the last stage blurs away)."""
    colour = arrays[f"{prefix}colour"]
    parts = [arrays[f"{prefix}pooled"], colour.reshape(len(colour), -1), arrays[f"{prefix}palette"]]
    return parts + ([arrays[f"{prefix}detail"]] if f"{prefix}detail" in arrays else [])


def cached_photos(store: FeatureStore, keys: list[str], groups: tuple[str, ...]) -> dict:
    """The cached arrays of the photos `keys`, in order, read a shard at a time into: `photo`, the tower vector of each
    photo as shot (float32: the neighbour searches read it); `inputs`, per view, what the claim heads see of it
    (`photo_inputs`, side by side, float16: the cache holds all but the tower's vector so, and it is rounded to it,
    finer than the heads train in); `colour`, `palette` and `detail` of the photo as shot, views into its inputs; and
    with the tokens, `regions`. No array is held twice: all photos' parts beside their inputs would add 11 KB a
    product to `train` and `score` (docs/decisions/2026-12-05-photo-inputs-read-by-shard.md)."""
    out: dict = {"inputs": {}}
    bounds: dict[str, np.ndarray] = {}  # per view, where each part begins in its inputs
    for positions, arrays in store.load_by_shard(PHOTO_KIND, keys, groups):
        if "regions" in arrays:
            out.setdefault("regions", np.empty((len(keys),) + arrays["regions"].shape[1:], dtype=arrays["regions"].dtype))[positions] = arrays["regions"]
        if "pooled" not in arrays:
            continue
        out.setdefault("photo", np.empty((len(keys), arrays["pooled"].shape[1]), dtype=arrays["pooled"].dtype))[positions] = arrays["pooled"]
        for view, prefix in VIEWS.items():
            parts = photo_inputs(arrays, prefix)
            bounds[view] = np.cumsum([0] + [p.shape[1] for p in parts])
            inputs = out["inputs"].setdefault(view, np.empty((len(keys), bounds[view][-1]), dtype=np.float16))
            for part, first, last in zip(parts, bounds[view][:-1], bounds[view][1:]):
                inputs[positions, first:last] = part  # rounded to float16 as it is written
        colour_shape = arrays["colour"].shape[1:]
    whole, at = out["inputs"]["whole"], bounds["whole"]
    out["colour"] = whole[:, at[1]:at[2]].reshape(len(keys), *colour_shape)
    out["palette"] = whole[:, at[2]:at[3]]
    out |= {"detail": whole[:, at[3]:at[4]]} if len(at) > 4 else {}  # only from backbones that give it
    return out


def product_features(store: FeatureStore, products, batch_size: int = 0, tokens: bool = False) -> dict:
    """Photo and text features of catalog rows, in row order, computed where not cached: photo (the tower vector of
    the photo as shot), inputs (per view, the claim heads' inputs), colour, palette, detail (where the backbone gives
    it: `cached_photos`), text (pooled); with `tokens`, also regions, tokens, mask and ids (where the backbone gives
    them), for a model that attends over them."""
    groups = (VECTORS, TOKENS) if tokens else (VECTORS,)
    failed = store.ensure_photos(dict(zip(products.image_sha256, products.image_path)), batch_size, groups)
    if failed:
        detail = next(iter(failed.values()))
        raise MMAuditError(f"{len(failed)} photo(s) could not be read for features, e.g. {detail}; rerun `mmaudit ingest`")
    keys = [text_key(t) for t in products.text]
    store.ensure_texts(dict(zip(keys, products.text)), batch_size, groups)
    text = store.load(TEXT_KIND, keys, groups)
    feats = {"text": text["pooled"]} | {name: text[name] for name in GROUPS[TEXT_KIND][TOKENS] if name in text}
    return feats | cached_photos(store, list(products.image_sha256), groups)


def dims_of(feats: dict[str, np.ndarray]) -> dict[str, int]:
    """The feature sizes a model is built for (the tokens' where they were loaded)."""
    dims = {"photo": feats["photo"].shape[1], "colour": feats["colour"].shape[2], "palette": feats["palette"].shape[1],
            "text": feats["text"].shape[1], "detail": feats["detail"].shape[1] if "detail" in feats else 0}
    if "regions" in feats:
        dims |= {"regions": feats["regions"].shape[2], "num_regions": feats["regions"].shape[1], "tokens": feats["tokens"].shape[2]}
    return dims


RAY_BLOCK_BATCHES = 2  # batches per Ray task: a retried task (its worker died) redoes at most this many


class RayExtractor:
    """A Ray actor holding one backbone: a batch of (key, photo path or text) -> the cache's arrays of `groups`.

    Every input row comes back (a photo that cannot be read has zeros and its problem in `error`),
    so every output block has the same columns."""

    def __init__(self, backbone_config: dict, kind: str, groups: tuple[str, ...], cpus: float):
        distributed.worker_threads(cpus)
        self.backbone, self.kind, self.groups = backbones.build(backbone_config), kind, tuple(groups)
        self.blank: dict[str, np.ndarray] | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys, items = [str(k) for k in batch["key"]], [str(i) for i in batch["item"]]
        done, arrays, failed = encode(self.backbone, self.kind, self.groups, keys, items)
        if not failed:
            return {"key": np.array(keys), "error": np.array([""] * len(keys))} | arrays
        if self.blank is None:
            self.blank = self._blank()
        position = {k: p for p, k in enumerate(done)}
        full = {n: np.stack([arrays[n][position[k]] if k in position else self.blank[n] for k in keys]) for n in self.blank}
        return {"key": np.array(keys), "error": np.array([failed.get(k, "") for k in keys])} | full

    def _blank(self) -> dict[str, np.ndarray]:
        """Zeros shaped like one photo's arrays, for rows whose photo could not be read."""
        arrays = image_arrays(self.backbone, prepare_photos([Image.new("RGB", (64, 64), (128, 128, 128))], self.groups), self.groups)
        return {n: np.zeros_like(a[0]) for n, a in arrays.items()}


def extract_on_ray(engine: EngineConfig, backbone_config: dict, kind: str, groups: tuple[str, ...], keys: list[str], items: list[str],
                   batch_size: int) -> Iterator[tuple[list[str], dict[str, np.ndarray], dict[str, str], int]]:
    """(keys computed, their arrays, key -> problem, rows done) per finished batch, in the order they finish."""
    frame = pd.DataFrame({"key": keys, "item": items})
    step = batch_size * RAY_BLOCK_BATCHES
    blocks = [frame.iloc[s:s + step] for s in range(0, len(frame), step)]
    for batch in distributed.map_actors(engine, RayExtractor, {"backbone_config": backbone_config, "kind": kind, "groups": groups}, blocks, batch_size):
        key, error = batch.pop("key"), batch.pop("error")
        good = error == ""
        yield ([str(k) for k in key[good]], {n: a[good] for n, a in batch.items()},
               {str(k): str(e) for k, e in zip(key[~good], error[~good])}, len(key))
