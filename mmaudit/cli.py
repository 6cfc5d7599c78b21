"""The `mmaudit` command: thin Typer commands over the stage functions."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, config as settings
from .errors import MMAuditError
from .files import check_output
from .progress import stderr

app = typer.Typer(
    help="Find the products in a catalog whose photo does not match their text.\n\n"
         "Pipeline: ingest -> make-negatives -> train -> score -> report (or `audit` for all five).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: ...]" and "mmaudit[ray]" are shown, not read as markup
)
stdout = Console()

def _about(stage: str, key: str) -> str:
    """A flag's help: its setting's doc and default, from the one place settings are declared (`config`)."""
    cls = settings.STAGES[stage]
    doc = next(f.metadata["doc"] for f in dataclasses.fields(cls) if f.name == key)
    default = getattr(cls(), key)
    shown = ",".join(default) if isinstance(default, list) else default
    return f"{doc[0].upper()}{doc[1:]}" + (f" [default: {shown}]." if shown not in ("", None) else ".")


ConfigOpt = typer.Option(None, "--config", help="TOML file with [ingest], [negatives], [train], [score], [report], [engine] sections.")
SetOpt = typer.Option([], "--set", help="Override a setting: stage.key=value (repeatable).")
EngineOpt = typer.Option(None, "--engine", help="Where feature extraction and scoring run: " + _about("engine", "name") + " Ray: pip install 'mmaudit[ray]'.")
ReviewedOpt = typer.Option([], "--reviewed", help="A review file (the report's review.csv with its verdict column filled in: wrong_photo, ok, unsure); repeatable, later files win.")
RayAddressOpt = typer.Option(None, "--ray-address", help="With --engine ray: " + _about("engine", "ray_address"))


def _version(value: bool) -> None:
    if value:
        stdout.print(f"mmaudit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Debug logs on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler()], force=True)
    logging.getLogger("mmaudit").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _print_table(frame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    stdout.print(table)


def _stage_config(stage: str, config_file: Optional[Path], sets: list[str], **flags):
    """The stage's settings: config file, then --set, then explicit flags (those not None)."""
    return _with_flags(settings.load(config_file, sets)[stage], stage, **flags)


def _with_flags(loaded, stage: str, **flags):
    """Loaded settings of a stage with the explicit flags (those not None) on top."""
    values = {**settings.as_dict(loaded), **{k: v for k, v in flags.items() if v is not None}}
    return settings.build(stage, values, "command line")


def _guard(fn):
    """Turn the project's exceptions into one red line and exit code 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MMAuditError as exc:
            stderr.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
    return wrapper


@app.command()
@_guard
def ingest(
    catalog: Path = typer.Argument(..., help="Catalog file: .csv, .tsv, .jsonl or .parquet."),
    out: Path = typer.Option(Path("catalog.parquet"), "-o", "--out", help="Where to write catalog.parquet."),
    id_col: Optional[str] = typer.Option(None, help=_about("ingest", "id_col")),
    image_col: Optional[str] = typer.Option(None, help=_about("ingest", "image_col")),
    text_cols: Optional[str] = typer.Option(None, help="Comma-separated. " + _about("ingest", "text_cols")),
    images_root: Optional[Path] = typer.Option(None, help=_about("ingest", "images_root")),
    format: Optional[str] = typer.Option(None, "--format", help=_about("ingest", "format")),
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Validate a catalog, resolve and hash every photo, run the photo and text checks.

    Reads CATALOG (+ its photos); writes catalog.parquet with one row per input row and a `status`
    (ok, missing_image, unreadable_image, ...). Example: mmaudit ingest products.csv -o work/catalog.parquet
    """
    from . import ingest as stage

    config = _stage_config("ingest", config_file, sets, id_col=id_col, image_col=image_col,
                           text_cols=text_cols.split(",") if text_cols else None,
                           images_root=str(images_root) if images_root else None, format=format)
    check_output(out)  # a clear error now, not after the long work
    path, summary = stage.run(catalog, out, config)
    _print_table(summary, f"ingest: {path}")
    typer.echo(str(path))  # plain, never wrapped: scripts read it


@app.command("make-negatives")
@_guard
def make_negatives(
    catalog: Path = typer.Argument(..., help="catalog.parquet written by `mmaudit ingest`."),
    out: Path = typer.Option(Path("pairs.parquet"), "-o", "--out", help="Where to write pairs.parquet."),
    backbone: Optional[str] = typer.Option(None, help=_about("negatives", "backbone")),
    group_col: Optional[str] = typer.Option(None, help="Column whose equal values mark variants of one product: never negatives."),
    k: Optional[int] = typer.Option(None, help=_about("negatives", "k")),
    seed: Optional[int] = typer.Option(None, help=_about("negatives", "seed")),
    cache_dir: Optional[Path] = typer.Option(None, help=_about("negatives", "cache_dir")),
    engine: Optional[str] = EngineOpt, ray_address: Optional[str] = RayAddressOpt,
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Embed photos and texts (cached), find similar products with FAISS, write matching and mismatching pairs.

    Reads catalog.parquet; writes pairs.parquet (text_product_id, photo_product_id, label 0 match / 1 mismatch,
    kind, rank, similarity, fold, split). Example: mmaudit make-negatives work/catalog.parquet -o work/pairs.parquet
    """
    from . import negatives as stage

    config = _stage_config("negatives", config_file, sets, backbone=backbone, group_col=group_col, k=k, seed=seed,
                           cache_dir=str(cache_dir) if cache_dir else None)
    engine_config = _stage_config("engine", config_file, sets, name=engine, ray_address=ray_address)
    check_output(out)  # a clear error now, not after the long work
    path, summary = stage.run(catalog, out, config, engine_config)
    _print_table(summary, f"make-negatives: {path}")
    typer.echo(str(path))  # plain, never wrapped: scripts read it


@app.command()
@_guard
def train(
    pairs: Path = typer.Argument(..., help="pairs.parquet written by `mmaudit make-negatives`."),
    out: Path = typer.Option(Path("model"), "-o", "--out", help="Model directory to write."),
    catalog: Optional[Path] = typer.Option(None, help="catalog.parquet the pairs came from [default: the one recorded in pairs.parquet]."),
    model: Optional[str] = typer.Option(None, help="Pair scorer: zeroshot (default: photo neighbours' texts vote, no training of its own), fusion (cross-attention encoder), dual (pooled-vector baseline) or itm (a hub backbone's own matching head); all are stacked with the attribute heads."),
    epochs: Optional[int] = typer.Option(None, help=_about("train", "epochs")),
    seed: Optional[int] = typer.Option(None, help=_about("train", "seed")),
    device: Optional[str] = typer.Option(None, help=_about("train", "device")),
    reviewed: list[Path] = ReviewedOpt,
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Train one pair scorer per fold (each never sees its fold's products), calibrate, save a model directory.

    Reads pairs.parquet and its catalog (+ cached features); writes MODEL/ (config.json, model.safetensors,
    calibration.json, metrics.json, folds.parquet). Example: mmaudit train work/pairs.parquet -o work/model
    """
    from . import train as stage

    config = _stage_config("train", config_file, sets, model=model, epochs=epochs, seed=seed, device=device)
    check_output(out)  # a clear error now, not after the long work
    path, summary = stage.run(pairs, out, config, catalog, reviewed)
    _print_table(summary, f"train: {path}")
    typer.echo(str(path))  # plain, never wrapped: scripts read it


@app.command()
@_guard
def score(
    catalog: Path = typer.Argument(..., help="Your catalog (.csv, .tsv, .jsonl, .parquet; photos beside it) or a catalog.parquet written by `mmaudit ingest`."),
    model: Optional[Path] = typer.Option(None, "-m", "--model", help="Model directory written by `mmaudit train` (e.g. last month's) [default: the catalog's own: its work folder's model/, trained on the catalog itself when there is none]."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Where to write the scores [default: scores.parquet beside an ingested catalog, NAME.scores.parquet beside your own]."),
    threshold: Optional[float] = typer.Option(None, help=_about("score", "threshold")),
    cache_dir: Optional[Path] = typer.Option(None, help=_about("negatives", "cache_dir")),
    device: Optional[str] = typer.Option(None, help=_about("score", "device")),
    engine: Optional[str] = EngineOpt, ray_address: Optional[str] = RayAddressOpt,
    reviewed: list[Path] = ReviewedOpt,
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Score every product; for suspects, name the product whose photo fits its text (photo_fits).

    mmaudit score products.csv: with no -m, the catalog's own model (trained on it once, in NAME-work/ beside the
    output, and reused). Writes scores.parquet: every catalog row and column plus mismatch_score, pair_score,
    swap_gain, swap_with, flagged, photo_fits, text_fits, contradiction, model. With a model trained elsewhere:
    mmaudit score work/catalog.parquet -m last-month/model
    """
    from . import own_model, score as stage

    configs = settings.load(config_file, sets)
    config = _with_flags(configs["score"], "score", threshold=threshold, device=device)
    configs["engine"] = engine_config = _with_flags(configs["engine"], "engine", name=engine, ray_address=ray_address)
    out = out or own_model.default_output(catalog)
    check_output(out)  # a clear error now, not after the long work
    catalog, model = own_model.resolve(catalog, model, out, configs, reviewed)
    path, summary = stage.run(catalog, model, out, config, str(cache_dir) if cache_dir else "", engine_config, reviewed)
    _print_table(summary, f"score: {path}")
    typer.echo(str(path))  # plain, never wrapped: scripts read it


@app.command()
@_guard
def report(
    scores: Path = typer.Argument(..., help="scores.parquet written by `mmaudit score`."),
    out: Path = typer.Option(Path("report"), "-o", "--out", help="Report folder to write."),
    truth: Optional[Path] = typer.Option(None, help="truth.csv (product_id, swapped) for benchmarks: adds a precision-recall plot."),
    max_suspects: Optional[int] = typer.Option(None, help=_about("report", "max_suspects")),
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Write an HTML report (suspects with thumbnails, plots, filters) and CSV files.

    Reads scores.parquet (+ the photos); writes REPORT/index.html, REPORT/thumbs/, REPORT/scores.csv (every product)
    and REPORT/review.csv (a verdict column to fill in). Example: mmaudit report work/scores.parquet -o work/report
    """
    from . import report as stage

    config = _stage_config("report", config_file, sets, max_suspects=max_suspects)
    check_output(out)  # a clear error now, not after the long work
    path = stage.run(scores, out, config, truth)
    typer.echo(str(path))  # plain, never wrapped: scripts read it


@app.command()
@_guard
def audit(
    catalog: Path = typer.Argument(..., help="Catalog file: .csv, .tsv, .jsonl or .parquet (photos beside it)."),
    out: Path = typer.Option(Path("mmaudit-work"), "-o", "--out", help="Work folder for every stage's output."),
    force: bool = typer.Option(False, "--force", help="Redo every stage even when its output is up to date."),
    id_col: Optional[str] = typer.Option(None, help=_about("ingest", "id_col")),
    image_col: Optional[str] = typer.Option(None, help=_about("ingest", "image_col")),
    text_cols: Optional[str] = typer.Option(None, help="Comma-separated. " + _about("ingest", "text_cols")),
    model: Optional[str] = typer.Option(None, help="zeroshot (default), fusion, dual or itm (see `mmaudit train --help`)."),
    engine: Optional[str] = EngineOpt, ray_address: Optional[str] = RayAddressOpt,
    reviewed: list[Path] = ReviewedOpt,
    config_file: Optional[Path] = ConfigOpt, sets: list[str] = SetOpt,
) -> None:
    """Run ingest, make-negatives, train, score and report into one folder; print where the report is.

    A stage whose output is up to date with its inputs and settings is skipped, so an interrupted audit
    resumes. Writes OUT/catalog.parquet, pairs.parquet, model/, scores.parquet, report/index.html, config.json.
    Example: mmaudit audit products.csv -o audit-2026-11
    """
    from . import audit as stage

    configs = settings.load(config_file, sets)
    configs["ingest"] = _with_flags(configs["ingest"], "ingest", id_col=id_col, image_col=image_col,
                                    text_cols=text_cols.split(",") if text_cols else None)
    configs["train"] = _with_flags(configs["train"], "train", model=model)
    configs["engine"] = _with_flags(configs["engine"], "engine", name=engine, ray_address=ray_address)
    check_output(out / "catalog.parquet")  # a clear error now, not after the long work
    paths = stage.run(catalog, out, configs, force, lambda name, state: stderr.print(f"[bold]{name}[/bold]: {state}"), reviewed=reviewed)
    typer.echo(str(paths["report"] / "index.html"))  # plain, never wrapped: scripts read it


@app.command()
@_guard
def demo(
    out: Path = typer.Argument(Path("mmaudit-demo"), help="Folder for the demo catalog."),
    products: int = typer.Option(160, help="How many products to draw."),
    swaps: int = typer.Option(6, help="How many pairs of products exchange photos."),
) -> None:
    """Draw a DEMO catalog (coloured shapes with matching titles, a few photos exchanged) to try mmaudit on.

    Writes OUT/products.csv, OUT/images/ and OUT/truth.csv (which products show another's photo, for
    `mmaudit report --truth`). Example: mmaudit demo mmaudit-demo && mmaudit audit mmaudit-demo/products.csv -o mmaudit-demo/work
    """
    from .demo import make_catalog

    typer.echo(str(make_catalog(out, products, swaps)))  # plain, never wrapped: scripts read it


@app.command("backbones")
@_guard
def list_backbones() -> None:
    """List the named backbones (photo + text towers) that make-negatives, train and score can use."""
    from . import backbones

    for name, config in sorted(backbones.list_backbones().items()):
        stdout.print(f"[bold]{name}[/bold]  {config.get('description', '')}", highlight=False)


if __name__ == "__main__":
    app()
