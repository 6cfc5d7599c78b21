"""The report (escaping, empty and broken catalogs, a real browser) and `audit` (end to end, resume)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from mmaudit import schema
from mmaudit.files import write_table

from .conftest import FAST_TRAIN, TINY, invoke

HOSTILE = ['<script>document.title="pwned"</script> Red pendant', "\" onerror=\"document.title='pwned'\" x=\"",
           "<img src=x onerror=alert(1)>"]


def scores_with(pipeline, tmp_path: Path, **changes) -> Path:
    table = pd.read_parquet(pipeline["scores"])
    for column, values in changes.items():
        table[column] = values(table) if callable(values) else values
    path = tmp_path / "scores.parquet"
    write_table(schema.to_table(table, "scores", schema.read_metadata(pipeline["scores"])["settings"]), path)
    return path


@pytest.fixture()
def hostile_report(pipeline, tmp_path) -> Path:
    top = pd.read_parquet(pipeline["scores"]).mismatch_score.rank(ascending=False, method="first") <= 3
    titles = lambda t: [HOSTILE[int(r) - 1] if hit else title for r, hit, title in  # noqa: E731
                        zip(t.mismatch_score.rank(ascending=False, method="first"), top, t.title)]
    path = scores_with(pipeline, tmp_path, title=titles)
    invoke("report", path, "-o", tmp_path / "report", "--truth", pipeline["truth"])
    return tmp_path / "report"


def test_report_files_and_escaping(hostile_report, pipeline):
    html = (hostile_report / "index.html").read_text()
    assert "<script>document.title" not in html and "<img src=x" not in html and 'onerror="document' not in html
    assert "precision-recall" in html and "mismatch score distribution" in html
    assert (hostile_report / "thumbs").is_dir() and len(list((hostile_report / "thumbs").glob("*.jpg"))) > 0
    assert 'src="/' not in html and "http" not in html.split("<script")[0].replace("http-equiv", "")
    csv = pd.read_csv(hostile_report / "scores.csv")
    assert len(csv) == len(pd.read_parquet(pipeline["scores"])) and {"mismatch_score", "flagged", "photo_fits"} <= set(csv.columns)
    review = pd.read_csv(hostile_report / "review.csv", keep_default_na=False)
    assert list(review.columns) == ["rank", "product_id", "title", "mismatch_score", "flagged", "photo_fits", "photo_fits_title", "verdict",
                                    "right_photo_of", "note"] and (review.verdict == "").all()
    assert not review.title.str.match(r"[=+\-@]").any()  # a spreadsheet would run a title that starts as a formula


def test_each_suspect_shows_its_own_photo_and_the_one_that_fits_its_text(hostile_report, pipeline):
    """The thumbnails (written several at a time) are each the listed product's photo and the suggested right photo's."""
    html = (hostile_report / "index.html").read_text()
    start = html.index('id="report-data">') + len('id="report-data">')
    rows = json.loads(html[start:html.index("</script>", start)])["rows"]
    scores = pd.read_parquet(pipeline["scores"]).set_index("product_id")
    thumb = lambda product: f"thumbs/{scores.image_sha256[product][:32]}.jpg"  # noqa: E731
    assert len(rows) == len(scores) and sum(row["fits_thumb"] is not None for row in rows) > 0
    for row in rows:
        assert row["thumb"] == thumb(row["product_id"]) and (hostile_report / row["thumb"]).is_file()
        assert row["fits_thumb"] == (thumb(row["photo_fits"]) if row["photo_fits"] else None)


def test_report_with_nothing_flagged_and_all_broken(pipeline, tmp_path):
    none = scores_with(pipeline, tmp_path, flagged=False)
    invoke("report", none, "-o", tmp_path / "none")
    assert '["flagged", 0]' in (tmp_path / "none" / "index.html").read_text()
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    broken = scores_with(pipeline, broken_dir, status="unreadable_image", mismatch_score=float("nan"), flagged=False)
    invoke("report", broken, "-o", broken_dir / "report")
    html = (broken_dir / "report" / "index.html").read_text()
    assert "No scored products" in html and "Broken or unreadable photos" in html


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(url: str, *extra: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([_chromium(), *flags, f"--user-data-dir={Path(url.split('#')[0][7:]).parent / '.chromium'}", *extra, url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_in_a_real_browser(hostile_report, tmp_path):
    url = f"file://{hostile_report / 'index.html'}"
    page = _browse(url, "--dump-dom")
    assert page.returncode == 0, page.stderr[-2000:]
    dom = page.stdout
    assert dom.count('class="suspect"') == 50  # the first page of suspects rendered
    assert "<title>mmaudit report</title>" in dom and "pwned" not in dom.split("<body")[0]
    assert "&lt;script&gt;document.title" in dom  # the hostile title shown as text
    assert "Uncaught" not in page.stderr and "SyntaxError" not in page.stderr
    one = _browse(url + "#q=P0001", "--dump-dom").stdout
    assert one.count('class="suspect"') == 1 and "P0001" in one  # filtering works
    shot = _browse(url, "--screenshot=" + str(tmp_path / "report.png"), "--window-size=1300,1500")
    assert (tmp_path / "report.png").stat().st_size > 10_000, shot.stderr[-1000:]


def test_audit_end_to_end_and_resume(demo_catalog, tmp_path):
    work = tmp_path / "audit"
    args = ("audit", demo_catalog, "-o", work, *TINY, *FAST_TRAIN)
    output = invoke(*args)
    assert str(work / "report" / "index.html") in output
    for name in ("catalog.parquet", "pairs.parquet", "model/config.json", "scores.parquet", "report/index.html", "config.json"):
        assert (work / name).exists(), name
    assert json.loads((work / "config.json").read_text())["negatives"]["backbone"] == "tiny-test"
    again = invoke(*args)
    assert again.count("up to date") == 5
    # A crash after training: the score and report outputs are gone; a rerun redoes only those.
    shutil.rmtree(work / "report")
    (work / "scores.parquet").unlink()
    model_mtime = (work / "model" / "model.safetensors").stat().st_mtime_ns
    resumed = invoke(*args)
    assert resumed.count("up to date") == 3 and (work / "report" / "index.html").exists()
    assert (work / "model" / "model.safetensors").stat().st_mtime_ns == model_mtime
    changed = invoke(*args[:-2], "--set", "train.epochs=2")  # a changed setting redoes train and what follows
    assert changed.count("up to date") == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here: the audit's models run on the CPU")
@pytest.mark.parametrize("model", ["zeroshot", "fusion"])
def test_audit_on_a_gpu(demo_catalog, tmp_path, model):
    """The pair model, the claim heads and scoring on the GPU (the cache's features stay on the CPU): every product
    scored, as on the CPU."""
    work = tmp_path / "audit"
    invoke("audit", demo_catalog, "-o", work, *TINY, *FAST_TRAIN, "--set", f"train.model={model}",
           "--set", "train.device=cuda", "--set", "score.device=cuda")
    scores = pd.read_parquet(work / "scores.parquet")
    assert len(scores) == len(pd.read_csv(demo_catalog)) and scores[scores.status == "ok"].mismatch_score.notna().all()
