"""Inputs found by `bench/fuzz.py`, kept as regression cases: each once broke `ingest` with a traceback."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from mmaudit.cli import app

from .test_ingest import photo

FOUND = {  # name: (extension, base64 of the file (fuzz.py's first byte, which picks the extension, dropped), expected)
    # a NUL byte in a photo path raised ValueError in path resolution; and this record has one field more than
    # the header, which pandas silently took as an index column, shifting every column (the id was lost)
    "nul-in-photo-path-and-a-long-record": (".csv", "aWQsaW1hZ2UsdGl0bGUKMSw1LnBuZyxSZWQgc2hpcnQAAAAALnBuZyxCbHVlIGplYW5zCg==",
                                             "record 2 has 4 fields, the header 3"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_fuzz_finding_gives_statuses_not_a_traceback(tmp_path, name):
    extension, data, expected = FOUND[name]
    photo(tmp_path / "a.png")
    catalog = tmp_path / f"catalog{extension}"
    catalog.write_bytes(base64.b64decode(data))
    result = CliRunner().invoke(app, ["ingest", str(catalog), "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output, result.output
