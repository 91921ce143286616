"""The county reports page: the verdict in words and why (which schools fail which rule, which items, which
veto), when it was computed (local time), a form to score the county again; yearly reports in the catalogue."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from inspections.accounts.enums import Role
from inspections.jobs.models import JobRecord
from inspections.scoring.models import CountyScore
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf, login

# R3 (PE/art teachers) far below its threshold, and one class of 52 over the primary cap (B5).
FAILING = {**GOOD_PRIMARY, "pe_art_teachers": 1, "class_sizes": [40] * 13 + [52]}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, FAILING)
    run_jobs(app)
    r = client.post(f"/api/v1/counties/{w.county_a1.id}/scoring-runs?level=primary",
                    json={"county_facts": {"admission_by_exam": True}}, headers=token_for(session, w.office_a1))
    assert r.status_code == 202
    run_jobs(app)
    return w


def _report(page: str, county, level: str = "primary") -> str:
    m = re.search(rf'<section data-testid="county-report" id="county-{county.code}-{level}">(.*?)</section>', page, re.S)
    assert m, page
    return m.group(1)


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r'<(form|a)\b[^>]*>', " ", html))


def test_the_report_says_why_in_english(client, session, world):
    login(client, world.office_a1.username)
    page = client.get("/web/dashboard/counties?lang=en").get_data(as_text=True)
    part = _report(page, world.county_a1)
    school = f"{world.school_a1.code} {world.school_a1.name}"
    assert re.search(r'data-testid="county-verdict">Fail<', part)
    vetoes = re.search(r'data-testid="county-vetoes">(.*?)</ul>', part, re.S).group(1)
    assert "Veto: Admission by examination" in vetoes
    reasons = re.findall(r"<li>([^<]*)</li>", part)
    # Which school fails the school rule, on which indicator, by how much.
    rule = next(r for r in reasons if "fails the school rule" in r)
    assert rule.startswith(school) and "R3 " in rule and "short by" in rule
    # Which item every school must meet, and which school does not.
    assert any(r.startswith("B5 ") and "is not met by: " + school in r for r in reasons)
    assert "The county has not submitted its self-report for the year." in part
    note = re.search(r'data-testid="county-note">([^<]*)<', part).group(1)
    assert "Illegal school choice" in note and "illegal_school_choice" not in note
    # No engine words, codes or ids in what a person reads.
    text = _visible(part)
    assert "一票否决" not in text and "not assessed (missing fact" not in text and ">fail<" not in part
    assert not UUID.search(text)


def test_the_report_says_why_in_chinese_with_local_time(client, session, world):
    row = session.query(CountyScore).one()
    row.computed_at = datetime(2026, 1, 23, 22, 5, tzinfo=timezone.utc)  # 06:05 on the 24th in Beijing
    session.commit()
    login(client, world.office_a1.username)
    part = _report(client.get("/web/dashboard/counties?lang=zh-CN").get_data(as_text=True), world.county_a1)
    assert re.search(r'data-testid="county-verdict">未达标<', part)
    assert "一票否决：以考试方式招生" in part and "未达到学校达标要求" in part
    assert re.search(r'data-testid="computed-at">2026-01-24 06:05<', part)
    assert "Fail" not in part and "school rule" not in part


def test_an_office_scores_its_county_again_through_the_job(app, client, session, world):
    login(client, world.office_a1.username)
    page = client.get("/web/dashboard/counties")
    assert 'data-testid="rescore"' in page.get_data(as_text=True)
    token = csrf(page)
    url = f"/web/dashboard/counties/{world.county_a1.id}/scoring"
    # Without the form's token nothing is asked for.
    assert client.post(url, data={"level": "primary"}).status_code == 400
    before = session.query(JobRecord).filter_by(kind="score_county").count()
    r = client.post(url, data={"level": "primary", "csrf_token": token})
    assert r.status_code == 303 and "/web/dashboard/counties" in r.headers["Location"]
    session.expire_all()
    jobs = session.query(JobRecord).filter_by(kind="score_county").all()
    assert len(jobs) == before + 1 and jobs[-1].args["county_id"] == str(world.county_a1.id)
    if app.config.get("REDIS_URL"):  # with a worker the run waits for it, and the page says so
        waiting = _report(client.get("/web/dashboard/counties").get_data(as_text=True), world.county_a1)
        assert 'data-testid="scoring-job">正在按最新督导结果重新评估' in waiting
    run_jobs(app)
    session.expire_all()
    assert session.query(CountyScore).filter_by(jurisdiction_id=world.county_a1.id).count() == 2
    # Asked again with nothing new: the same job (the API's idempotent id), not another.
    client.post(url, data={"level": "primary", "csrf_token": token})
    assert session.query(JobRecord).filter_by(kind="score_county").count() == before + 1
    flash = re.search(r'data-testid="flash">(.*?)</div>', client.get("/web/dashboard/counties").get_data(as_text=True),
                      re.S).group(1)
    assert f"正在重新评估{world.county_a1.name}（小学）" in flash


def test_scoring_again_is_refused_out_of_scope(client, session, world):
    other = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    login(client, other.username)
    token = csrf(client.get("/web/dashboard/counties"))
    for target in (world.county_a1.id, world.city_a.id, "nope"):
        r = client.post(f"/web/dashboard/counties/{target}/scoring", data={"level": "primary", "csrf_token": token})
        assert r.status_code == 404
    assert session.query(JobRecord).filter_by(kind="score_county").count() == 1  # the fixture's run only
    client.post("/web/logout", data={"csrf_token": token})
    login(client, world.inspector_a1.username)
    token = csrf(client.get("/web/my-visits"))
    r = client.post(f"/web/dashboard/counties/{world.county_a1.id}/scoring", data={"level": "primary",
                                                                                    "csrf_token": token})
    assert r.status_code == 403


def test_a_bad_level_is_refused(client, world):
    login(client, world.office_a1.username)
    token = csrf(client.get("/web/dashboard/counties"))
    r = client.post(f"/web/dashboard/counties/{world.county_a1.id}/scoring", data={"level": "x", "csrf_token": token})
    assert r.status_code == 400


@pytest.mark.parametrize("lang,words", [("en", ["Yearly supervision reports", "Make the report", "None yet"]),
                                        ("zh-CN", ["年度督导报告", "生成报告", "尚未生成"])])
def test_yearly_reports_speak_through_the_catalogue(client, world, lang, words):
    login(client, world.office_a1.username)
    page = client.get(f"/web/dashboard/counties?lang={lang}").get_data(as_text=True)
    section = re.search(r'<section data-testid="yearly-reports">(.*?)</section>', page, re.S).group(1)
    assert all(w in section for w in words)


def test_a_bad_year_reads_in_the_page_language(client, world):
    login(client, world.office_a1.username)
    token = csrf(client.get("/web/dashboard/counties?lang=zh-CN"))
    r = client.post("/web/yearly-reports", data={"jurisdiction_id": str(world.county_a1.id), "year": "1999",
                                                 "csrf_token": token})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "年度：请输入 2000 至 2100 之间的整数。" in body and "must be" not in body
    assert 'href="/web/dashboard/counties?lang=en"' in body  # switching language leaves the POST address


def test_a_year_not_yet_begun_is_refused_in_the_page_language(client, session, world):
    from inspections import clock
    from sqlalchemy import select
    from inspections.scoring.models import YearlyReport
    login(client, world.office_a1.username)
    token = csrf(client.get("/web/dashboard/counties?lang=zh-CN"))
    nxt = clock.today().year + 1
    r = client.post("/web/yearly-reports", data={"jurisdiction_id": str(world.county_a1.id), "year": str(nxt),
                                                 "csrf_token": token})
    assert r.status_code == 422
    assert f"年份：{nxt} 年尚未开始" in r.get_data(as_text=True)
    assert session.scalar(select(YearlyReport.id)) is None


def test_a_verdict_is_never_shown_without_a_word_on_why(client, session, world):
    """A stored reason of a kind the page cannot put in words yet still leaves a (translated) pointer."""
    row = session.query(CountyScore).one()
    result = dict(row.result)
    result.update(schools=[], items={}, veto={"facts": {}, "vetoed": [], "not_reported": []},
                  areas={"A": {"verdict": "fail", "reasons": ["something new"]}})
    row.result = result
    session.commit()
    login(client, world.office_a1.username)
    part = _report(client.get("/web/dashboard/counties?lang=en").get_data(as_text=True), world.county_a1)
    areas = re.search(r'data-testid="county-areas">(.*?)</ul>\s*</li>', part, re.S).group(1)
    assert "Resource allocation: <strong>Fail</strong>" in areas
    assert "The reasons are listed in the CSV report." in areas and "something new" not in part


def test_a_failed_scoring_run_is_shown(client, session, world):
    job = session.query(JobRecord).filter_by(kind="score_county").one()
    job.status, job.error = "failed", "boom"
    session.commit()
    login(client, world.office_a1.username)
    page = client.get("/web/dashboard/counties?lang=en").get_data(as_text=True)
    assert 'data-testid="scoring-job">The last scoring run failed' in _report(page, world.county_a1)
    assert "scoring-job" not in _report(page, world.county_a1, "junior") and "boom" not in page
