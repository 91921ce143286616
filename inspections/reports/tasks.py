"""RQ job of the reports slice: make a yearly report's PDF and XLSX and store them."""
from __future__ import annotations

import uuid

from inspections import storage as blob_storage
from inspections.db import utcnow
from inspections.jobs.service import tracked
from inspections.org.models import Jurisdiction
from inspections.reports import render, service
from inspections.scoring.models import YearlyReport


@tracked("yearly_report")
def generate_yearly_report(session, *, report_id: str, storage_url: str, endpoint_url: str | None = None,
                           region: str | None = None, tz: str | None = None) -> dict:
    """Gather the year's facts, render both files, store them, and mark the report ready (once)."""
    row = session.get(YearlyReport, uuid.UUID(report_id))
    if row is None:
        return {"report_id": report_id, "status": "missing"}
    j = session.get(Jurisdiction, row.jurisdiction_id)
    content = service.build_content(session, j, row.year, tz=tz)
    store = blob_storage.from_url(storage_url, endpoint_url=endpoint_url, region=region)
    base = f"reports/{j.id}/{row.year}/{row.id}"
    store.put(f"{base}.pdf", render.pdf(content), content_type="application/pdf")
    store.put(f"{base}.xlsx", render.xlsx(content),
              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    row.content, row.pdf_key, row.xlsx_key = content, f"{base}.pdf", f"{base}.xlsx"
    row.status, row.generated_at, row.error = "ready", utcnow(), None
    session.flush()
    return {"report_id": report_id, "status": "ready"}
