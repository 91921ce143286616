"""Documents a county attaches to its self-report as evidence: uploaded by the county's office, cited
from the report by id, seen and downloaded by the city office above; nobody else, and nothing but
document types."""
from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.accounts.enums import Role
from inspections.db import utcnow
from inspections.scoring.models import CountyDocument
from tests.factories import make_user, make_world, token_for
from tests.inspections.scoring.reports import good_report

YEAR = clock.year_of(utcnow())
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + "教师工资统计表".encode() * 10
DOCX = b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml" + b"\x00" * 100


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_office = token_for(session, w.office_a1)
    w.h_city = token_for(session, w.office_a)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_school = token_for(session, w.school_user_a1)
    w.h_sibling = token_for(session, make_user(session, Role.office, jurisdiction=w.county_a2))
    session.commit()
    return w


def upload(client, world, data, filename="2026年教师工资统计表.pdf", headers=None, year=YEAR,
           content_type="application/octet-stream"):
    return client.post(f"/api/v1/counties/{world.county_a1.id}/self-report/documents?year={year}&filename={filename}",
                       data=data, content_type=content_type, headers=headers or world.h_office)


def test_an_evidence_file_cited_by_the_report_and_seen_by_the_city(client, session, world):
    r = upload(client, world, PDF)
    assert r.status_code == 201, r.json
    doc = r.json
    assert (doc["content_type"], doc["size"], doc["sha256"]) == ("application/pdf", len(PDF),
                                                                 hashlib.sha256(PDF).hexdigest())
    assert doc["filename"] == "2026年教师工资统计表.pdf"
    report = good_report()
    report["documents"] = [{"item": "B8", "title": "教师工资统计表", "document_id": doc["id"]},
                           {"item": "B9", "title": "培训学时台账", "reference": "档案室 B9-02"}]
    url = f"/api/v1/counties/{world.county_a1.id}/self-report?year={YEAR}"
    r = client.put(url, json=report, headers=world.h_office)
    assert r.status_code == 200, r.json
    # The city office above reads the report, lists the files and downloads the one cited.
    seen = client.get(url, headers=world.h_city).json
    assert seen["documents"][0]["document_id"] == doc["id"]
    listed = client.get(f"/api/v1/counties/{world.county_a1.id}/self-report/documents?year={YEAR}",
                        headers=world.h_city).json["items"]
    assert [d["id"] for d in listed] == [doc["id"]]
    got = client.get(doc["url"], headers=world.h_city)
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    # A sibling county's office and the schools get nothing; an inspector of the county may read it.
    missing = client.get("/api/v1/county-documents/00000000-0000-4000-8000-000000000000", headers=world.h_sibling)
    r = client.get(doc["url"], headers=world.h_sibling)
    assert r.status_code == 404 and r.json["title"] == missing.json["title"]
    assert client.get(doc["url"], headers=world.h_school).status_code == 403
    assert client.get(doc["url"], headers=world.h_insp).status_code == 200


def test_a_citation_must_be_this_countys_file_of_this_year(client, session, world):
    other_year = upload(client, world, PDF, year=YEAR - 1).json
    report = good_report()
    report["documents"] = [{"item": "B8", "title": "t", "document_id": other_year["id"]},
                           {"item": "B8", "title": "t", "document_id": "00000000-0000-4000-8000-000000000000"},
                           {"item": "B8", "title": "t", "document_id": "not-an-id"}]
    r = client.put(f"/api/v1/counties/{world.county_a1.id}/self-report?year={YEAR}", json=report,
                   headers=world.h_office)
    assert r.status_code == 422 and set(r.json["errors"]) == {"documents[2]"}
    report["documents"] = report["documents"][:2]
    r = client.put(f"/api/v1/counties/{world.county_a1.id}/self-report?year={YEAR}", json=report,
                   headers=world.h_office)
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"documents[0].document_id", "documents[1].document_id"}


@pytest.mark.parametrize("data,filename,why", [
    (b"", "a.pdf", "is empty"),
    (b"<html><script>alert(1)</script>", "a.pdf", "must be a"),
    (b"MZ\x90\x00", "report.docx", "must be a"),
    (DOCX, "report.exe", "must be a"),  # a zip is a document only as .docx/.xlsx/.pptx
])
def test_only_documents_are_kept(client, session, world, data, filename, why):
    r = upload(client, world, data, filename=filename)
    assert r.status_code == 422 and why in r.json["errors"]["file"][0]
    assert session.scalar(select(func.count()).select_from(CountyDocument)) == 0


def test_who_may_attach(app, client, session, world):
    assert upload(client, world, DOCX, filename="x.docx").json["content_type"].endswith("wordprocessingml.document")
    assert upload(client, world, PDF, headers=world.h_city).status_code == 201  # the office above may
    assert upload(client, world, PDF, headers=world.h_insp).status_code == 403
    assert upload(client, world, PDF, headers=world.h_school).status_code == 403
    assert upload(client, world, PDF, headers=world.h_sibling).status_code == 404
    assert upload(client, world, PDF, content_type="text/plain").status_code == 415
    app.config["DOCUMENT_MAX_BYTES"] = len(PDF) - 1
    assert upload(client, world, PDF).status_code == 413
    assert session.scalar(select(func.count()).select_from(CountyDocument)) == 2
    # A folder in the name is dropped.
    app.config["DOCUMENT_MAX_BYTES"] = 1 << 20
    assert upload(client, world, PDF, filename="../../etc/passwd.pdf").json["filename"] == "passwd.pdf"


@pytest.mark.parametrize("filename,kept", [("report.html", "report.pdf"), ("setup.exe", "setup.pdf"),
                                           ("x.svg", "x.pdf"), ("minutes.PDF", "minutes.PDF"), ("noext", "noext.pdf"),
                                           (".pdf", ".pdf.pdf")])
def test_a_file_is_named_as_the_type_its_bytes_are(client, session, world, filename, kept):
    """A PDF sent as "report.html" (or an .exe, an .svg) is kept and offered for download as a PDF: the name
    a browser saves it under never makes it open as a page or run as a program."""
    body = PDF[:9] + b"<html><script>alert(document.domain)</script></html>" + PDF[9:]
    r = upload(client, world, body, filename=filename)
    assert r.status_code == 201, r.json
    assert (r.json["filename"], r.json["content_type"]) == (kept, "application/pdf")
    got = client.get(r.json["url"], headers=world.h_office)
    disposition = got.headers["Content-Disposition"]
    assert got.mimetype == "application/pdf" and disposition.startswith("attachment;")
    assert re.search(r"filename=document-[0-9a-f-]+\.(pdf|PDF);", disposition), disposition
    assert disposition.endswith("''" + kept), disposition


def test_a_file_kept_before_names_were_fixed_downloads_under_its_types_extension(client, session, world):
    r = upload(client, world, PDF)
    row = session.get(CountyDocument, uuid.UUID(r.json["id"]))
    row.filename = "report.html"  # as an earlier version kept it
    session.commit()
    disposition = client.get(r.json["url"], headers=world.h_office).headers["Content-Disposition"]
    assert disposition.endswith("''report.pdf") and ".html" not in disposition, disposition
