"""`mmaudit ingest` on a deliberately broken catalog: every row accounted for with the exact status."""

from __future__ import annotations

import http.server
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from mmaudit.cli import app

from .conftest import SHARED

runner = CliRunner()


def photo(path: Path, colour=(200, 40, 40), size=(64, 64), mode="RGB", fmt=None) -> str:
    image = Image.new("RGB", size, (250, 250, 250))
    ImageDraw.Draw(image).ellipse((8, 8, size[0] - 8, size[1] - 8), fill=colour)
    if mode == "CMYK":
        image = image.convert("CMYK")
    elif mode == "P":
        image = image.convert("RGBA").quantize(colors=16)
        image.info["transparency"] = 0
    image.save(path, fmt)
    return path.name


def huge_header_png(path: Path) -> str:
    """A valid small PNG whose IHDR claims 100000x100000 pixels."""
    import struct
    import zlib
    Image.new("RGB", (8, 8), "red").save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path.name


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/ok.png":
            body = (Path(self.server.root) / "ok.png").read_bytes()
            self.send_response(200); self.send_header("Content-Type", "image/png"); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        elif self.path == "/page.png":
            body = b"<html>not a photo</html>"
            self.send_response(200); self.send_header("Content-Type", "text/html"); self.end_headers(); self.wfile.write(body)
        elif self.path == "/slow.png":
            time.sleep(2)
            self.send_response(200); self.end_headers()
        else:
            self.send_response(404); self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def local_server(handler: type, root: Path):
    """An HTTP server on 127.0.0.1 (a free port) serving `handler`, with a photo `ok.png` in `root`; yields its URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.root = root
    photo(root / "ok.png", colour=(10, 120, 200))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture()
def server(tmp_path):
    with local_server(Handler, tmp_path) as url:
        yield url


def test_broken_catalog_every_row_has_its_status(tmp_path, server):
    root = tmp_path / "shop"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes((tmp_path / "ok.png").read_bytes())
    good = photo(root / "good.jpg", fmt="JPEG")
    photo(root / "copy.jpg", fmt="JPEG")
    (root / "copy.jpg").write_bytes((root / "good.jpg").read_bytes())
    truncated = root / "truncated.jpg"
    photo(truncated, fmt="JPEG", size=(200, 200))
    truncated.write_bytes(truncated.read_bytes()[:300])
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (root / "zero.jpg").write_bytes(b"")
    (root / "page.jpg").write_bytes(b"<html><body>oops</body></html>")
    huge_header_png(root / "huge.png")
    photo(root / "cmyk.jpg", mode="CMYK", fmt="JPEG")
    photo(root / "palette.png", mode="P")
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "blue")]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("RGB", (64, 64), (128, 128, 128)).save(root / "blank.png")
    Image.new("RGB", (8, 8), (10, 200, 10)).save(root / "tiny.png")
    (root / "escape").symlink_to(tmp_path / "outside.png")
    (root / "adir.jpg").mkdir()
    rows = [
        ("1", good, "Red round pendant", "ok"),
        ("2", "copy.jpg", "Another red pendant", "ok"),
        ("3", "truncated.jpg", "Truncated photo product", "unreadable_image"),
        ("4", "corrupt.jpg", "Corrupt photo product", "unreadable_image"),
        ("5", "zero.jpg", "Zero byte photo product", "unreadable_image"),
        ("6", "page.jpg", "HTML saved as jpg product", "unreadable_image"),
        ("7", "huge.png", "Gigapixel header product", "image_too_large"),
        ("8", "cmyk.jpg", "CMYK photo product", "ok"),
        ("9", "palette.png", "Palette photo with transparency", "ok"),
        ("10", "anim.gif", "Animated photo product", "ok"),
        ("11", "missing.jpg", "Missing photo product", "missing_image"),
        ("12", "../outside.png", "Path escaping the root", "unsafe_path"),
        ("13", "escape", "Symlink escaping the root", "unsafe_path"),
        ("14", "adir.jpg", "A directory, not a file", "missing_image"),
        ("1", good, "Duplicate id product", "duplicate_id"),
        ("16", good, "", "empty_text"),
        ("17", f"{server}/ok.png", "Downloaded photo product", "ok"),
        ("18", f"{server}/gone.png", "404 photo product", "download_failed"),
        ("19", f"{server}/page.png", "HTML served as photo", "download_failed"),
        ("20", f"{server}/slow.png", "Timed out photo product", "download_failed"),
        ("21", "ftp://example.invalid/a.png", "Wrong scheme product", "unsafe_path"),
        ("22", "blank.png", "Blank grey photo product", "ok"),
        ("23", "tiny.png", "Tiny photo product", "ok"),
        ("", good, "No id product", "missing_id"),
    ]
    pd.DataFrame([r[:3] for r in rows], columns=["id", "image", "title"]).assign(colour="red").to_csv(root / "products.csv", index=False)
    out = tmp_path / "work" / "catalog.parquet"
    result = runner.invoke(app, ["ingest", str(root / "products.csv"), "-o", str(out),
                                 "--set", "ingest.download_timeout_s=0.5", "--set", "ingest.download_retries=1"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert len(table) == len(rows)
    assert list(table.status) == [r[3] for r in rows], table[["product_id", "status", "status_detail"]].to_string()
    assert table.colour.tolist() == ["red"] * len(rows)  # passthrough column kept
    by_row = table.set_index("row_number")
    assert by_row.loc[1, "is_duplicate_photo_issue"] and by_row.loc[2, "is_duplicate_photo_issue"]
    assert by_row.loc[22, "is_blank_photo_issue"] and not by_row.loc[1, "is_blank_photo_issue"]
    assert by_row.loc[23, "is_tiny_photo_issue"] and not by_row.loc[1, "is_tiny_photo_issue"]
    assert by_row.loc[8, "width"] == 64 and len(by_row.loc[8, "image_sha256"]) == 64 and len(by_row.loc[8, "image_phash"]) == 16
    assert "ok" in result.output and "rows read" in result.output


def seven_photos(folder: Path) -> Path:
    """A catalog of seven rows: good photos, a corrupt one, a missing one and one too large."""
    photo(folder / "a.jpg", fmt="JPEG")
    photo(folder / "b.png", colour=(20, 160, 40), size=(80, 50))
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    huge_header_png(folder / "huge.png")
    images = ["a.jpg", "b.png", "corrupt.jpg", "missing.jpg", "huge.png", "a.jpg", "b.png"]
    pd.DataFrame({"id": [str(k) for k in range(len(images))], "image": images, "title": "A round pendant"}).to_csv(folder / "c.csv", index=False)
    return folder / "c.csv"


SEVEN_STATUSES = ["ok", "ok", "unreadable_image", "missing_image", "image_too_large", "ok", "ok"]


def test_photos_read_in_processes_give_what_this_process_reads(tmp_path, monkeypatch):
    """Batches of photos read by two processes: every row's status, detail and photo facts as read in this process."""
    from mmaudit import ingest

    seven_photos(tmp_path)
    monkeypatch.setattr(ingest, "INSPECT_BATCH", 2)  # seven photos in four batches
    started = []
    readers = ingest.photo_readers
    monkeypatch.setattr(ingest, "photo_readers", lambda *a: started.append(readers(*a)) or started[-1])
    tables = {}
    for workers in (2, 1):
        out = tmp_path / f"w{workers}.parquet"
        assert runner.invoke(app, ["ingest", str(tmp_path / "c.csv"), "-o", str(out), "--set", f"ingest.workers={workers}"]).exit_code == 0
        tables[workers] = pd.read_parquet(out).set_index("product_id")
    assert [type(r).__name__ for r in started] == ["ProcessPoolExecutor", "nullcontext"]
    pd.testing.assert_frame_equal(tables[2], tables[1])
    assert list(tables[2].status) == SEVEN_STATUSES
    refused = runner.invoke(app, ["ingest", str(tmp_path / "c.csv"), "-o", str(tmp_path / "x.parquet"), "--set", "ingest.workers=-1"])
    assert refused.exit_code == 1 and "ingest.workers -1: must be 0" in refused.output and not (tmp_path / "x.parquet").exists()


def test_the_photos_a_dead_reading_process_leaves_are_read_here(tmp_path, monkeypatch):
    """A reading process that dies (a decoder crashing, the kernel ending it) loses no row: the batches left are read in
    this process, with a warning."""
    from concurrent.futures.process import BrokenProcessPool
    from contextlib import contextmanager

    from mmaudit import ingest

    catalog = seven_photos(tmp_path)
    monkeypatch.setattr(ingest, "INSPECT_BATCH", 2)

    class DiesAfterOneBatch:
        def map(self, fn, batches, *constants):
            batches = list(batches)
            yield fn(batches[0], *(next(c) for c in constants))
            raise BrokenProcessPool("a process ended abruptly")

    @contextmanager
    def dying(*args):
        yield DiesAfterOneBatch()

    warned = []
    monkeypatch.setattr(ingest, "photo_readers", dying)
    monkeypatch.setattr(ingest.log, "warning", lambda message, *args: warned.append(message % args))
    out = tmp_path / "catalog.parquet"
    assert runner.invoke(app, ["ingest", str(catalog), "-o", str(out)]).exit_code == 0
    assert list(pd.read_parquet(out).status) == SEVEN_STATUSES
    assert len(warned) == 1 and "the 5 photos left are read in this process" in warned[0]


def test_rerun_gives_identical_file(demo_catalog, tmp_path):
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (first, second):
        assert runner.invoke(app, ["ingest", str(demo_catalog), "-o", str(out)]).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(first), pd.read_parquet(second))
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("make, args, message", [
    (lambda d: None, ["missing.csv"], "no such catalog file"),
    (lambda d: (d / "c.xlsx").write_text("x"), ["c.xlsx"], "cannot tell the format"),
    (lambda d: (d / "c.csv").write_text("sku,image,title\n1,a.jpg,T\n"), ["c.csv"], "no column 'id'"),
    (lambda d: (d / "c.csv").write_text("id,image,name\n1,a.jpg,T\n"), ["c.csv"], "--text-cols"),
    (lambda d: (d / "c.csv").write_bytes("id,image,title\n1,a.jpg,Caf\xe9\n".encode("latin-1")), ["c.csv"], "not UTF-8"),
])
def test_bad_invocations_exit_cleanly(tmp_path, make, args, message):
    make(tmp_path)
    result = runner.invoke(app, ["ingest", str(tmp_path / args[0]), "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["ingest", "make-negatives", "train", "score", "report", "audit"])
def test_help_shows_every_bracketed_word(command):
    """Help texts are plain: a "[default: ...]", "[score]" or "mmaudit[ray]" is printed as written, not eaten as markup."""
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "[score]" in result.output
    assert "mmaudit[ray]" in result.output or command in ("ingest", "train", "report")  # those run no engine
    assert "[default: " in result.output


@pytest.mark.slow
def test_real_catalog_all_ok(tmp_path):
    catalog = SHARED / "datasets" / "myntra-fashion" / "products.csv"
    if not catalog.exists():
        pytest.skip(f"{catalog} is not here")
    out = tmp_path / "catalog.parquet"
    assert runner.invoke(app, ["ingest", str(catalog), "-o", str(out)]).exit_code == 0
    table = pd.read_parquet(out)
    assert len(table) == 9583 and (table.status == "ok").all()
