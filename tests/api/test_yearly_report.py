"""The yearly supervision report (年度督导报告) of a county and a city: made by a job through the outbox,
downloaded as PDF (Chinese fonts embedded, text that extracts as Chinese) and XLSX (numbers as numbers)
by the offices in scope; 404 for everyone else's."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from inspections import clock
from inspections.db import utcnow
from inspections.jobs.models import JobRecord
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.inspections.scoring.reports import good_report

GOOD = {**GOOD_PRIMARY, "class_sizes": [40] * 15, "music_rooms_m2": [100, 100], "art_rooms_m2": [95, 95]}
YEAR = clock.year_of(utcnow())


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_office = token_for(session, w.office_a1)
    w.h_city = token_for(session, w.office_a)
    w.h_school = token_for(session, w.school_user_a1)
    w.h_sibling = token_for(session, _office(session, w.county_a2))
    w.h_admin = token_for(session, w.admin)
    return w


def _office(session, county):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    u = make_user(session, Role.office, jurisdiction=county)
    session.commit()
    return u


def make_report(app, client, jurisdiction_id, headers, year=YEAR) -> dict:
    r = client.post(f"/api/v1/jurisdictions/{jurisdiction_id}/yearly-reports", json={"year": year}, headers=headers)
    assert r.status_code == 202, r.json
    run_jobs(app)
    got = client.get(f"/api/v1/yearly-reports/{r.json['id']}", headers=headers).json
    assert got["status"] == "ready", got
    return got


def pdf_of(client, report, headers) -> PdfReader:
    r = client.get(report["pdf_url"], headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(r.data))


def embedded_fonts(reader: PdfReader) -> set[str]:
    """BaseFont names of fonts whose program is inside the PDF (FontFile, FontFile2 or FontFile3)."""
    out = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for desc in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                fd = desc.get("/FontDescriptor")
                if fd is not None and any(k in fd.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    out.add(str(desc["/BaseFont"]))
    return out


def sheet_rows(client, report, headers, name):
    r = client.get(report["xlsx_url"], headers=headers)
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return list(load_workbook(io.BytesIO(r.data), read_only=True)[name].iter_rows(values_only=True))


def test_county_report_reads_as_chinese_with_fonts_embedded_and_numbers_as_numbers(app, client, session, world):
    # One school 149.90 m² short of R4 (a ticket), one good; the county judged; its self-report in.
    r = client.put(f"/api/v1/counties/{world.county_a1.id}/self-report?year={YEAR}", json=good_report(),
                   headers=world.h_office)
    assert r.status_code == 200, r.json
    submit_visit(client, world.h_insp, world.school_a1.id, {**GOOD, "enrolment": 700, "teaching_aux_area_m2": "3000.1"})
    run_jobs(app)
    run = client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary",
                      json={"county_facts": {"admission_by_exam": False, "illegal_school_choice": False,
                                             "key_schools_or_classes": False}}, headers=world.h_office)
    assert run.status_code == 202
    run_jobs(app)
    report = make_report(app, client, world.county_a1.id, world.h_office)
    job = session.scalar(select(JobRecord).where(JobRecord.id == f"yearly-report-{report['id']}"))
    assert job.kind == "yearly_report" and job.status == "finished"  # through the outbox, once

    reader = pdf_of(client, report, world.h_office)
    text = "".join(p.extract_text() for p in reader.pages)
    assert f"{world.county_a1.name}{YEAR}年度义务教育优质均衡发展督导报告" in text.replace("\n", "")
    flat = "".join(text.split())  # table cells wrap lines
    for words in ("评估结果", "资源配置", "政府保障程度", "学校按差距排名", "整改与督办", "通报后进", "R4生均教学及辅助用房面积",
                  "还差149.90平方米"):
        assert words in flat, words
    # The reasons are worded in Chinese from the judgement's facts.
    school = "".join(f"{world.school_a1.code} {world.school_a1.name}".split())
    assert f"{school}：R1-R7中4项未达标" in flat
    assert "fails the school rule" not in flat
    fonts = embedded_fonts(reader)
    assert any("CJK" in f for f in fonts), fonts  # the Chinese is drawn with an embedded CJK font
    assert "Asia/Shanghai" in text

    rows = sheet_rows(client, report, world.h_office, "学校排名")
    assert rows[0][:6] == ("名次", "学校代码", "学校", "县（市、区）", "未达标项数", "其中R1-R7")
    first = rows[1]
    assert first[1] == world.school_a1.code and first[0] == 1
    # 700 pupils on facts for 600: R3, R4, R5 and R7 short, all four of R1-R7, written as numbers.
    assert (first[4], first[5]) == (4, 4) and isinstance(first[4], (int, float))
    assert "还差 149.90 平方米" in first[13]
    tickets = sheet_rows(client, report, world.h_office, "整改单")
    assert tickets[1][0] == world.county_a1.name and tickets[1][2] >= 1 and isinstance(tickets[1][2], (int, float))
    areas = sheet_rows(client, report, world.h_office, "评估结果")
    assert {row[4] for row in areas[1:]} >= {"A 资源配置", "B 政府保障程度", "C 教育质量", "D 社会认可度"}
    assert any(row[4] == "A 资源配置" and row[6].endswith("R1-R7 中 4 项未达标（每校至少6项达标，未达标项不低于要求的85%）")
               for row in areas[1:])
    laggards = sheet_rows(client, report, world.h_office, "后进名单")
    assert any(row[2] == world.school_a1.name and "R4" in row[4] for row in laggards[1:])


def test_only_offices_in_scope_see_or_make_it(app, client, world):
    report = make_report(app, client, world.county_a1.id, world.h_office)
    url, file_url = f"/api/v1/yearly-reports/{report['id']}", report["pdf_url"]
    # The city office above reads the county's report; the admin too.
    for h in (world.h_city, world.h_admin):
        assert client.get(url, headers=h).status_code == 200
        assert client.get(file_url, headers=h).status_code == 200
    # A sibling county's office gets exactly what an unknown id gets.
    missing = client.get(f"/api/v1/yearly-reports/{'0' * 8}-0000-4000-8000-{'0' * 12}", headers=world.h_sibling)
    for u in (url, file_url, report["xlsx_url"]):
        r = client.get(u, headers=world.h_sibling)
        assert r.status_code == 404 and r.json["title"] == missing.json["title"]
    assert client.get(f"/api/v1/jobs/yearly-report-{report['id']}", headers=world.h_sibling).status_code == 404
    assert client.get(f"/api/v1/jobs/yearly-report-{report['id']}", headers=world.h_city).status_code == 200
    r = client.post(f"/api/v1/jurisdictions/{world.county_a1.id}/yearly-reports", json={"year": YEAR},
                    headers=world.h_sibling)
    assert r.status_code == 404
    assert client.get(f"/api/v1/jurisdictions/{world.county_a1.id}/yearly-reports",
                      headers=world.h_sibling).status_code == 404
    # Schools and inspectors are not offices.
    for h in (world.h_school, world.h_insp):
        assert client.get(url, headers=h).status_code == 403
        assert client.get(file_url, headers=h).status_code == 403
    assert client.get(url).status_code == 401
    listed = client.get(f"/api/v1/jurisdictions/{world.county_a1.id}/yearly-reports?year={YEAR}",
                        headers=world.h_city).json["items"]
    assert [x["id"] for x in listed] == [report["id"]]


def test_bad_requests_write_nothing(app, client, session, world):
    from inspections.scoring.models import YearlyReport
    url = f"/api/v1/jurisdictions/{world.county_a1.id}/yearly-reports"
    assert client.post(url, json={"year": 1999}, headers=world.h_office).status_code == 422
    assert client.post(url, json={}, headers=world.h_office).status_code == 422
    # Next business year has not begun: nothing to report yet.
    r = client.post(url, json={"year": YEAR + 1}, headers=world.h_office)
    assert r.status_code == 422 and "has not begun" in r.json["errors"]["year"][0], r.json
    r = client.post(f"/api/v1/jurisdictions/{world.province.id}/yearly-reports", json={"year": YEAR},
                    headers=world.h_admin)
    assert r.status_code == 422 and "jurisdiction" in r.json["errors"]
    assert session.scalar(select(YearlyReport.id)) is None
    # A report whose job has not run yet has no file.
    waiting = YearlyReport(jurisdiction_id=world.county_a1.id, year=YEAR, status="queued")
    session.add(waiting)
    session.commit()
    assert client.get(f"/api/v1/yearly-reports/{waiting.id}", headers=world.h_office).json["pdf_url"] is None
    assert client.get(f"/api/v1/yearly-reports/{waiting.id}/file?format=pdf", headers=world.h_office).status_code == 409
    assert client.get(f"/api/v1/yearly-reports/{waiting.id}/file?format=doc", headers=world.h_office).status_code == 422


def test_city_report_names_each_county_and_the_laggards(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, {**GOOD, "class_sizes": [40] * 14 + [56]})
    run_jobs(app)
    for county in (world.county_a1,):
        client.post(f"/api/v1/counties/{county.id}/scoring-runs?level=primary", json={}, headers=world.h_city)
    run_jobs(app)
    report = make_report(app, client, world.city_a.id, world.h_city)
    text = "".join(p.extract_text() for p in pdf_of(client, report, world.h_city).pages).replace("\n", "")
    assert f"{world.city_a.name}{YEAR}年度" in text
    assert world.county_a1.name in text and world.county_a2.name in text
    laggards = sheet_rows(client, report, world.h_city, "后进名单")
    named = {(row[0], row[2]) for row in laggards[1:]}
    assert ("县（市、区）", world.county_a1.name) in named  # judged and failing B5
    assert ("县（市、区）", world.county_a2.name) in named  # never judged in the year
    assert ("学校", world.school_a1.name) in named
    # The county office below cannot read the city's report.
    assert client.get(report["pdf_url"], headers=world.h_office).status_code == 404


def test_the_demo_county_and_city_reports_download_and_read(app, client, runner, session):
    """`make run`'s demo: 明德县's office and 示范市's office download their reports; the Chinese reads."""
    assert runner.invoke(args=["load-demo"]).exit_code == 0

    def token(username):
        r = client.post("/api/v1/auth/token", json={"username": username, "password": "demo-pass-2017"})
        return {"Authorization": f"Bearer {r.json['access_token']}"}
    from inspections.org.models import Jurisdiction
    county = session.scalar(select(Jurisdiction).where(Jurisdiction.code == "DEMO-C1-MDX"))
    city = session.scalar(select(Jurisdiction).where(Jurisdiction.code == "DEMO-C1"))
    office, city_office = token("office"), token("city-office")
    report = make_report(app, client, county.id, office)
    flat = "".join("".join(p.extract_text() for p in pdf_of(client, report, office).pages).split())
    assert f"明德县{YEAR}年度义务教育优质均衡发展督导报告" in flat
    assert "明德县实验小学" in flat or "明德县" in flat
    assert "政府保障程度" in flat and "通报后进" in flat
    assert "要求不低于85%；学生" in flat and "B11.1每年交流轮岗教师比例" in flat  # the survey by group; a county item
    ranked = sheet_rows(client, report, office, "学校排名")
    assert len(ranked) - 1 >= 30 and all(isinstance(row[0], int) for row in ranked[1:])
    assert [row[0] for row in ranked[1:]] == list(range(1, len(ranked)))
    summary = dict(sheet_rows(client, report, office, "概况")[1:])
    assert summary["本年新开整改单"] > 0 and isinstance(summary["本年督办次数"], int)
    city_report = make_report(app, client, city.id, city_office)
    flat = "".join("".join(p.extract_text() for p in pdf_of(client, city_report, city_office).pages).split())
    assert "示范市" in flat and "明德县" in flat and "清河县" in flat
    assert client.get(city_report["pdf_url"], headers=office).status_code == 404


def test_the_county_reports_page_makes_and_links_the_report(app, client, session, world):
    from tests.factories import make_user
    from tests.web.helpers import csrf, login
    from inspections.accounts.enums import Role
    sibling = make_user(session, Role.office, jurisdiction=world.county_a2)
    session.commit()
    login(client, world.office_a.username)  # the city office: its city and both counties
    page = client.get("/web/dashboard/counties")
    html = page.get_data(as_text=True)
    assert 'data-testid="yearly-reports"' in html and "年度督导报告" in html
    assert world.city_a.name in html and world.county_a2.name in html
    token = csrf(page)
    r = client.post("/web/yearly-reports", data={"csrf_token": token, "jurisdiction_id": str(world.county_a1.id),
                                                 "year": str(YEAR)})
    assert r.status_code == 303
    run_jobs(app)
    html = client.get("/web/dashboard/counties").get_data(as_text=True)
    link = re.search(r'href="(/api/v1/yearly-reports/[^"]+/file\?format=pdf)"', html).group(1)
    got = client.get(link)  # the page's session cookie is enough
    assert got.status_code == 200 and got.data.startswith(b"%PDF-")
    xlsx = client.get(link.replace("format=pdf", "format=xlsx"))
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    # A readable refusal for a bad year, nothing written; no CSRF token: 400.
    r = client.post("/web/yearly-reports", data={"csrf_token": token, "jurisdiction_id": str(world.county_a1.id),
                                                 "year": "1999"})
    assert r.status_code == 422 and "2000" in r.get_data(as_text=True)
    assert client.post("/web/yearly-reports", data={"jurisdiction_id": str(world.county_a1.id),
                                                    "year": str(YEAR)}).status_code == 400
    # A sibling county's office neither sees the link nor makes the report.
    client.post("/web/logout", data={"csrf_token": token})
    login(client, sibling.username)
    page = client.get("/web/dashboard/counties")
    assert world.county_a1.name not in page.get_data(as_text=True)
    assert client.get(link).status_code == 404
    r = client.post("/web/yearly-reports", data={"csrf_token": csrf(page), "jurisdiction_id": str(world.county_a1.id),
                                                 "year": str(YEAR)})
    assert r.status_code == 404
    from inspections.scoring.models import YearlyReport
    assert session.scalar(select(func.count()).select_from(YearlyReport)) == 1
