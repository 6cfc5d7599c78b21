"""The hostile-catalog corpus, part two (part one: `test_ingest.test_broken_catalog_every_row_has_its_status`).

Rows that must come out with an exact status, catalog files that must be refused with a clear
message, URLs served by a local server on 127.0.0.1, and one `audit` run over hostile rows mixed
with a real catalog: it finishes, every input row is in the output, and no catalog text becomes markup.
"""

from __future__ import annotations

import http.server
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from mmaudit.cli import app

from .conftest import FAST_TRAIN, TINY
from .test_ingest import local_server, photo

runner = CliRunner()
LONG_TITLE = "Long cotton shirt " * 58_000  # about 1 MB
SCRIPT = '<script>alert("x")</script> Red shirt'
ATTRIBUTE = '" onerror="alert(1)" x=" Blue jeans'


class HostileServer(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def do_GET(self):  # noqa: N802
        HostileServer.hits[self.path] = HostileServer.hits.get(self.path, 0) + 1
        body = (Path(self.server.root) / "ok.png").read_bytes()
        if self.path == "/flaky.png" and HostileServer.hits[self.path] == 1:
            self.send_error(500)
        elif self.path in ("/flaky.png", "/fine.png"):
            self._send(body, "image/png")
        elif self.path == "/loop.png":
            self.send_response(302)
            self.send_header("Location", "/loop.png")
            self.end_headers()
        elif self.path == "/huge.png":  # no Content-Length: the limit must hold while reading
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(body + b"\0" * 200_000)
        elif self.path == "/words.png":
            self._send(b"just text", "text/plain")
        else:
            self.send_error(404)

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(tmp_path):
    HostileServer.hits = {}
    with local_server(HostileServer, tmp_path) as url:
        yield url


def hostile_rows(root: Path, server: str) -> list[tuple[str, str, str, str]]:
    """(id, image, title, expected status) for each case; writes the photos it needs into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    good = photo(root / "good.png", colour=(200, 30, 30))
    Image.fromarray(np.full((48, 48), 40_000, dtype=np.uint16)).save(root / "deep.png")  # 16-bit grey
    assert Image.open(root / "deep.png").mode.startswith("I")
    frames = [Image.new("RGB", (40, 40), c) for c in ("green", "blue")]
    frames[0].save(root / "anim.webp", save_all=True, append_images=frames[1:])
    rotated = Image.new("RGB", (60, 40), (30, 30, 200))
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees on display
    rotated.save(root / "rotated.jpg", exif=exif)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(root / "pixel.png")
    return [
        ("h01", "deep.png", "Sixteen bit grey photo", "ok"),
        ("h02", "anim.webp", "Animated webp photo", "ok"),
        ("h03", "rotated.jpg", "EXIF rotated photo", "ok"),
        ("h04", "pixel.png", "One pixel photo product", "ok"),
        ("h05", good, "   \t  ", "empty_text"),
        ("h06", good, LONG_TITLE, "ok"),
        ("h07", good, "Kurta कुर्ता 連衣裙 فستان 👗🔥 mixed scripts", "ok"),
        ("h08", good, "Bell\x07 and \x1b[31mANSI red\x1b[0m and tab\tcontrol", "ok"),
        ("h09", good, 'Quoted "best" shirt,\nwith a newline, inside', "ok"),
        ("Ab", good, "Id differs only by case (upper)", "ok"),
        ("ab", good, "Id differs only by case (lower)", "ok"),
        ("007", good, "Id with leading zeros", "ok"),
        ("7", good, "Id without leading zeros", "ok"),
        ("h14", good, SCRIPT, "ok"),
        ("h15", good, ATTRIBUTE, "ok"),
        ("h16", f"{server}/flaky.png", "Server error then success on retry", "ok"),
        ("h17", f"{server}/loop.png", "Redirect loop", "download_failed"),
        ("h18", f"{server}/huge.png", "Response far over the size limit", "download_failed"),
        ("h19", f"{server}/words.png", "Text served as a photo", "download_failed"),
        ("h20", "file:///etc/passwd", "A file URL outside the root", "unsafe_path"),
        ("h21", "javascript:alert(1)", "A javascript URL", "unsafe_path"),
        ("h22", "shirt\x00.png", "A NUL byte in the photo path (found by bench/fuzz.py)", "unsafe_path"),
    ]


def write_csv(path: Path, rows: list[tuple], extra: dict | None = None) -> Path:
    frame = pd.DataFrame([r[:3] for r in rows], columns=["id", "image", "title"])
    for name, value in (extra or {}).items():
        frame[name] = value
    frame.to_csv(path, index=False)
    return path


def ingest(catalog: Path, out: Path, *extra: str):
    return runner.invoke(app, ["ingest", str(catalog), "-o", str(out), "--set", "ingest.download_timeout_s=2",
                               "--set", "ingest.download_retries=2", "--set", "ingest.max_image_bytes=100000", *extra])


def test_hostile_rows_each_get_their_status(tmp_path, server):
    root = tmp_path / "shop"
    rows = hostile_rows(root, server)
    catalog = write_csv(root / "products.csv", rows, {"extra_col": "kept", "status": "a user column named like ours"})
    result = ingest(catalog, tmp_path / "catalog.parquet")
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(tmp_path / "catalog.parquet")
    assert list(table.product_id) == [r[0] for r in rows]  # case and leading zeros kept: six distinct ids
    assert list(table.status) == [r[3] for r in rows], table[["product_id", "status", "status_detail"]].to_string()
    by_id = table.set_index("product_id")
    assert (by_id.loc["h03", "width"], by_id.loc["h03", "height"]) == (40, 60)  # EXIF orientation applied
    assert by_id.loc["h04", "is_tiny_photo_issue"]
    assert by_id.loc["h06", "title"] == LONG_TITLE and by_id.loc["h14", "title"] == SCRIPT and by_id.loc["h15", "title"] == ATTRIBUTE
    assert by_id.loc["h09", "title"] == rows[8][2]  # quotes and newline survive the CSV round trip
    assert "\x1b" not in by_id.loc["h08", "text"] and "\x07" not in by_id.loc["h08", "text"]  # control characters out of the text
    assert "👗" in by_id.loc["h07", "text"]
    assert (table.extra_col == "kept").all() and (table.input_status == "a user column named like ours").all()
    assert HostileServer.hits["/flaky.png"] == 2 and HostileServer.hits["/loop.png"] >= 2
    assert "over the limit" in by_id.loc["h18", "status_detail"]
    assert not (tmp_path / "shop" / "downloads").exists() or all(p.stat().st_size < 100_001 for p in (tmp_path / "shop" / "downloads").iterdir())


@pytest.mark.parametrize("name, content, message", [
    ("bom.csv", "\ufeffid,image,title\n1,good.png,Shirt with a byte order mark\n", None),
    ("crlf.csv", "id,image,title\r\n1,good.png,Windows line endings\r\n", None),
    ("items.jsonl", '{"id": "1", "image": "good.png", "title": "JSON lines row"}\n', None),
    ("broken.jsonl", '{"id": "1", "image": "good.png", "title": "fine"}\n{"id": 2, "image": \n', "broken.jsonl"),
    ("nul.csv", "id,image,title\n1,good.png,Nul\x00byte title\n", None),
    ("header_only.csv", "id,image,title\n", "no rows"),
    ("empty.csv", "", "empty"),
    ("dup_cols.csv", "id,image,title,title\n1,good.png,A,B\n", "duplicate column"),
])
def test_hostile_catalog_files(tmp_path, name, content, message):
    root = tmp_path / "shop"
    root.mkdir()
    photo(root / "good.png")
    (root / name).write_bytes(content.encode("utf-8"))
    result = ingest(root / name, tmp_path / "catalog.parquet")
    assert "Traceback" not in result.output
    if message is None:
        assert result.exit_code == 0, result.output
        table = pd.read_parquet(tmp_path / "catalog.parquet")
        assert list(table.product_id) == ["1"] and list(table.status) == ["ok"]
    else:
        assert result.exit_code == 1, result.output
        assert message in result.output.lower() or message in result.output
        assert not (tmp_path / "catalog.parquet").exists()


def test_audit_over_hostile_rows_keeps_every_row_and_renders_no_markup(tmp_path, server, demo_catalog):
    """Hostile rows mixed into the demo catalog: the whole audit finishes, every row is in scores.csv with a status,
    and the report carries the hostile titles only as escaped data."""
    root = demo_catalog.parent
    rows = hostile_rows(root / "hostile", server)
    rows = [(i, f"hostile/{img}" if "://" not in img and ":" not in img else img, t, s) for i, img, t, s in rows]
    demo = pd.read_csv(demo_catalog, dtype=str, keep_default_na=False)
    catalog = pd.concat([demo[["id", "image", "title"]], pd.DataFrame([r[:3] for r in rows], columns=["id", "image", "title"])])
    path = root / "mixed.csv"
    catalog.to_csv(path, index=False)
    result = runner.invoke(app, ["audit", str(path), "-o", str(tmp_path / "work"), *TINY, *FAST_TRAIN,
                                 "--set", "ingest.download_timeout_s=2", "--set", "ingest.max_image_bytes=100000"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "work" / "report" / "scores.csv", dtype=str, keep_default_na=False)
    assert sorted(scores.product_id) == sorted(catalog.id)
    expected = dict(zip(demo.id, ["ok"] * len(demo))) | {r[0]: r[3] for r in rows}
    assert dict(zip(scores.product_id, scores.status)) == expected
    html = (tmp_path / "work" / "report" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and 'onerror="alert' not in html
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1))
    for title in (SCRIPT, ATTRIBUTE):  # the titles are there, as data
        assert json.dumps(title, ensure_ascii=False) in json.dumps(data, ensure_ascii=False)


def test_unwritable_output_folder_is_refused_before_work(pipeline, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    result = runner.invoke(app, ["score", str(pipeline["catalog"]), "-m", str(pipeline["model"]),
                                 "-o", str(tmp_path / "a_file" / "scores.parquet")])
    assert result.exit_code == 1 and "cannot write the output there" in result.output and "Traceback" not in result.output


def test_full_disk_is_refused_before_work_and_mid_write_keeps_the_earlier_output(demo_catalog, tmp_path, monkeypatch):
    import shutil

    import pyarrow.parquet as pq

    from mmaudit import files

    out = tmp_path / "catalog.parquet"
    assert runner.invoke(app, ["ingest", str(demo_catalog), "-o", str(out)]).exit_code == 0
    before = out.read_bytes()
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    result = runner.invoke(app, ["ingest", str(demo_catalog), "-o", str(out)])
    assert result.exit_code == 1 and "only 1 MiB free" in result.output
    monkeypatch.undo()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    result = runner.invoke(app, ["ingest", str(demo_catalog), "-o", str(out)])
    assert result.exit_code == 1 and "No space left on device" in result.output and "unchanged" in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
