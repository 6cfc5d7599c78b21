"""Reviewers' verdicts fed back: read, accumulated, and used by train, score and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mmaudit.cli import app
from mmaudit.errors import MMAuditError
from mmaudit.reviews import read_verdicts, threshold_from_verdicts
from mmaudit.train import with_verdicts

from .conftest import FAST_TRAIN, invoke


def _write(path, rows, columns=("product_id", "verdict", "right_photo_of")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def test_verdicts_are_forgiving_in_spelling_and_later_ones_win(tmp_path):
    first = _write(tmp_path / "a.csv", [("p1", "Wrong photo", "p9"), ("p2", " OK ", ""), ("p3", "wrong-photo", ""), ("p4", "", "")])
    second = _write(tmp_path / "b.csv", [("p1", "ok", "p7"), ("p2", "unsure", ""), ("p3", "", ""), ("p5", "WRONG_PHOTO", "p6")])
    verdicts = read_verdicts([first, second]).set_index("product_id")
    assert verdicts.verdict.to_dict() == {"p1": "ok", "p2": "ok", "p3": "wrong_photo", "p5": "wrong_photo"}
    assert verdicts.right_photo_of.to_dict() == {"p1": "", "p2": "", "p3": "", "p5": "p6"}  # named only with wrong_photo


def test_a_bad_verdict_is_one_clear_error_naming_the_row(tmp_path):
    bad = _write(tmp_path / "review.csv", [("p1", "ok", ""), ("p2", "maybe", ""), ("p3", "nope", "")])
    with pytest.raises(MMAuditError, match=r"review.csv, row 3 \(product 'p2'\): verdict 'maybe'.*2 such row"):
        read_verdicts([bad])
    with pytest.raises(MMAuditError, match="no column.*verdict"):
        read_verdicts([_write(tmp_path / "other.csv", [("p1", "ok")], ("product_id", "status"))])
    with pytest.raises(MMAuditError, match="no such review file"):
        read_verdicts([tmp_path / "missing.csv"])


def test_the_threshold_moves_only_where_the_verdicts_cover_it():
    scores = np.linspace(1.0, 0.0, 1000)
    reviewed = np.arange(1000) < 100  # the top 100 were reviewed
    wrong = reviewed & (np.arange(1000) < 60)  # the top 60 wrong, the next 40 fine
    # the unlabeled threshold flags 80, all reviewed: at precision 0.8 the verdicts move it to 75 flags (60 of 75)
    moved, seen = threshold_from_verdicts(scores, reviewed, wrong, float(scores[79]), 0.8)
    assert moved == pytest.approx(scores[74]) and seen["moved"] and seen["reviewed_precision"] == 0.6
    # the unlabeled threshold flags 300: mostly unreviewed products, the verdicts say nothing of them
    stays, seen = threshold_from_verdicts(scores, reviewed, wrong, float(scores[299]), 0.5)
    assert stays == pytest.approx(scores[299]) and not seen["moved"]
    # no reviewed range reaches the target: nothing is flagged on its score
    none, _ = threshold_from_verdicts(scores, reviewed, reviewed & (np.arange(1000) % 10 == 0), float(scores[79]), 0.5)
    assert none > scores.max()


def test_a_confirmed_wrong_product_becomes_a_labelled_mismatch_and_its_named_partner_a_match():
    pairs = pd.DataFrame({"text_product_id": ["a", "a", "b", "b", "c"], "photo_product_id": ["a", "b", "b", "a", "c"],
                          "label": np.array([0, 1, 0, 1, 0], np.int8), "kind": ["positive", "hard_photo", "positive", "hard_photo", "positive"],
                          "rank": np.zeros(5, np.int32), "similarity": np.ones(5, np.float32), "fold": np.array([0, 0, 1, 1, 2], np.int32),
                          "split": ["fold0", "fold0", "fold1", "fold1", "fold2"]})
    verdicts = pd.DataFrame({"product_id": ["a", "c"], "verdict": ["wrong_photo", "ok"], "right_photo_of": ["b", ""]})
    out = with_verdicts(pairs, verdicts)
    own_a = out[(out.text_product_id == "a") & (out.photo_product_id == "a")]
    assert own_a.label.tolist() == [1] and own_a.kind.tolist() == ["reviewed_wrong"]
    match = out[out.kind == "reviewed_match"]
    assert match[["text_product_id", "photo_product_id", "label", "fold"]].values.tolist() == [["b", "a", 0, 1]]
    assert out[out.text_product_id == "c"].label.tolist() == [0]  # ok: unchanged
    assert (out.dtypes == pairs.dtypes).all()


@pytest.fixture(scope="module")
def reviewed_run(pipeline, tmp_path_factory):
    """The demo pipeline's first scores reviewed: its top swapped product confirmed wrong (and the product whose photo it
    shows named), its top clean product confirmed right; then train and score again with the verdicts."""
    work = tmp_path_factory.mktemp("reviewed")
    scores = pd.read_parquet(pipeline["scores"]).sort_values("mismatch_score", ascending=False)
    truth = pd.read_csv(pipeline["truth"], dtype=str).set_index("product_id")
    swapped = scores[scores.product_id.map(truth.swapped) == "1"].product_id.iloc[0]
    clean = scores[scores.product_id.map(truth.swapped) == "0"].product_id.iloc[0]
    review = _write(work / "review.csv", [(swapped, "wrong_photo", truth.photo_of[swapped]), (clean, "OK", ""), ("gone", "ok", "")])
    invoke("train", pipeline["pairs"], "-o", work / "model", "--reviewed", review, *FAST_TRAIN)
    invoke("score", pipeline["catalog"], "-m", work / "model", "-o", work / "scores.parquet", "--reviewed", review)
    invoke("report", work / "scores.parquet", "-o", work / "report")
    return {"work": work, "swapped": swapped, "clean": clean, "partner": truth.photo_of[swapped]}


def test_train_learns_from_the_verdicts(reviewed_run):
    metrics = json.loads((reviewed_run["work"] / "model" / "metrics.json").read_text())
    assert metrics["reviewed"] == {"wrong_photo": 1, "ok": 1, "matches_named": 1}
    assert metrics["rounds"][0]["left_out"] == 1  # the confirmed-wrong product teaches the claim heads nothing


def test_score_keeps_the_verdicts_and_the_named_right_photo(reviewed_run):
    scores = pd.read_parquet(reviewed_run["work"] / "scores.parquet").set_index("product_id")
    wrong, clean = scores.loc[reviewed_run["swapped"]], scores.loc[reviewed_run["clean"]]
    assert wrong.verdict == "wrong_photo" and wrong.flagged and wrong.photo_fits == reviewed_run["partner"]
    assert clean.verdict == "ok" and not clean.flagged
    assert (scores.verdict == "").sum() == len(scores) - 2


def test_the_next_review_sheet_lists_new_suspects_first_and_keeps_the_verdicts(reviewed_run, tmp_path):
    sheet = pd.read_csv(reviewed_run["work"] / "report" / "review.csv", dtype=str, keep_default_na=False)
    assert set(sheet.product_id.tolist()[-2:]) == {reviewed_run["swapped"], reviewed_run["clean"]}
    assert (sheet.verdict[:-2] == "").all() and {"title", "photo_fits", "photo_fits_title", "right_photo_of"} <= set(sheet.columns)
    kept = read_verdicts([reviewed_run["work"] / "report" / "review.csv"]).set_index("product_id")
    assert kept.verdict.to_dict() == {reviewed_run["swapped"]: "wrong_photo", reviewed_run["clean"]: "ok"}
    assert kept.right_photo_of[reviewed_run["swapped"]] == reviewed_run["partner"]


def test_a_bad_review_file_stops_score_before_the_work(pipeline, tmp_path):
    bad = _write(tmp_path / "review.csv", [("x", "wrong", "")])
    result = CliRunner().invoke(app, ["score", str(pipeline["catalog"]), "-m", str(pipeline["model"]), "-o", str(tmp_path / "s.parquet"),
                                      "--reviewed", str(bad)])
    assert result.exit_code == 1 and "row 2" in result.output and "'wrong'" in result.output
    assert not (tmp_path / "s.parquet").exists()


@pytest.mark.slow
def test_the_audit_loop_learns_from_the_review_sheet_and_a_rerun_with_the_same_verdicts_redoes_nothing(demo_catalog, tmp_path):
    work = tmp_path / "audit"
    invoke("audit", demo_catalog, "-o", work, *FAST_TRAIN)
    sheet_path = work / "report" / "review.csv"
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    truth = pd.read_csv(demo_catalog.parent / "truth.csv", dtype=str).set_index("product_id").swapped
    top = sheet.head(5)
    sheet.loc[top.index, "verdict"] = np.where(top.product_id.map(truth) == "1", "wrong_photo", "ok")
    sheet.to_csv(sheet_path, index=False)  # the reviewer fills in the sheet in place
    invoke("audit", demo_catalog, "-o", work, "--reviewed", sheet_path, *FAST_TRAIN)
    metrics = json.loads((work / "model" / "metrics.json").read_text())
    assert metrics["reviewed"]["wrong_photo"] + metrics["reviewed"]["ok"] == 5
    trained = (work / "model" / "metrics.json").stat().st_mtime_ns
    invoke("audit", demo_catalog, "-o", work, "--reviewed", sheet_path, *FAST_TRAIN)  # the report rewrote the sheet, same verdicts
    assert (work / "model" / "metrics.json").stat().st_mtime_ns == trained
    assert (read_verdicts([sheet_path]).verdict != "").sum() == 5


def test_the_review_sheet_never_runs_a_title_as_a_formula():
    from mmaudit.report import review_sheet

    scored = pd.DataFrame({"product_id": ["a", "b"], "title": ['=HYPERLINK("http://x","y")', "Red bag"], "mismatch_score": [0.9, 0.1],
                           "flagged": [True, False], "photo_fits": ["b", None], "photo_fits_score": [0.8, np.nan], "verdict": ["", ""]})
    sheet = review_sheet(scored, scored.set_index("product_id"), ["title"])
    assert sheet.title.tolist() == ['\'=HYPERLINK("http://x","y")', "Red bag"] and sheet.photo_fits_title.tolist()[0] == "Red bag"
