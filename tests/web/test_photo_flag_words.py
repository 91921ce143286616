"""Photo integrity flags are stored as facts and said in the reader's language on the pages."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import session as web_session

from server.web import words

FLAGS = [{"code": "before_start", "taken": "2026-05-30T17:00:00+00:00", "source": "exif", "hours": 23.0},
         {"code": "after_end", "taken": "2026-06-06T09:00:00+00:00", "source": "device", "hours": 117.0},
         {"code": "far_from_school", "km": 5.9, "source": "exif"},
         {"code": "reused", "visits": 1}]


def _photo(flags):
    return SimpleNamespace(flagged=True, evidence={"flags": flags})


@pytest.fixture
def en(app):
    with app.test_request_context("/web/visits"):
        web_session["lang"] = "en"
        yield


@pytest.fixture
def zh(app):
    with app.test_request_context("/web/visits"):
        yield


def test_flags_in_english(en):
    assert words.photo_flags(_photo(FLAGS)) == [
        "Taken 23.0 hours before the visit's day", "Taken 117.0 hours after the visit ended",
        "Taken 5.9 km from the school", "The same file is evidence on other visits"]


def test_flags_in_chinese(zh):
    said = words.photo_flags(_photo(FLAGS))
    assert said == ["拍摄时间早于访视当天 23.0 小时", "拍摄时间晚于访视结束 117.0 小时", "拍摄地点距学校 5.9 公里",
                    words.photo_flags(_photo([FLAGS[3]]))[0]]
    assert "hours" not in " ".join(said) and "km" not in " ".join(said)


def test_flags_stored_as_sentences_before_are_still_read(en):
    assert words.photo_flags(_photo(["taken 2026-05-31T13:00:00+00:00 (device), 20.0 hours before the visit started",
                                     "taken 5.9 km from the school (EXIF GPS)"])) == [
        "Taken before the visit started", "Taken 5.9 km from the school"]
