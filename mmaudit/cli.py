"""The `mmaudit` command: thin Typer commands over the stage functions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__, config as settings
from .errors import MMAuditError
from .progress import stderr

app = typer.Typer(
    help="Find the products in a catalog whose photo does not match their text.\n\n"
         "Pipeline: ingest -> make-negatives -> train -> score -> report (or `audit` for all five).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
stdout = Console()

ConfigOpt = typer.Option(None, "--config", help="TOML file with [ingest], [negatives], [train], [score], [report] sections.")
SetOpt = typer.Option([], "--set", help="Override a setting: stage.key=value (repeatable).")


def _version(value: bool) -> None:
    if value:
        stdout.print(f"mmaudit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Debug logs on stderr."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler()], force=True)


def _print_table(frame, title: str) -> None:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    stdout.print(table)


def _stage_config(stage: str, config_file: Optional[Path], sets: list[str], **flags):
    """The stage's settings: config file, then --set, then explicit flags (those not None)."""
    loaded = settings.load(config_file, sets)[stage]
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
            stderr.print(f"[red]error:[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
    return wrapper


@app.command()
@_guard
def ingest(
    catalog: Path = typer.Argument(..., help="Catalog file: .csv, .tsv, .jsonl or .parquet."),
    out: Path = typer.Option(Path("catalog.parquet"), "-o", "--out", help="Where to write catalog.parquet."),
    id_col: Optional[str] = typer.Option(None, help="Column with the product id [default: id]."),
    image_col: Optional[str] = typer.Option(None, help="Column with the photo path or URL [default: image]."),
    text_cols: Optional[str] = typer.Option(None, help="Comma-separated text columns [default: title,description where present]."),
    images_root: Optional[Path] = typer.Option(None, help="Folder photo paths are relative to [default: the catalog's folder]."),
    format: Optional[str] = typer.Option(None, "--format", help="csv, tsv, jsonl or parquet [default: from the extension]."),
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
    path, summary = stage.run(catalog, out, config)
    _print_table(summary, f"ingest: {path}")
    stdout.print(str(path))


if __name__ == "__main__":
    app()
