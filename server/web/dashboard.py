"""Office dashboard (督办): counts, aging, closure, trend, drill-down, exports, county 差异系数 reports."""
from __future__ import annotations

import base64
import io
import uuid
from datetime import date

from flask import Response, abort, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.scope import jurisdiction_filter
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction
from inspections.tickets import dashboard as dash
from inspections.tickets.enums import Severity, TicketStatus
from schemas.common import EARLIEST, LATEST
from server.extensions import session
from server.spreadsheet import XLSX_OPTIONS, SafeWriter
from server.web import _principal, bp, nav_link
from server.web import words
from server.web.i18n import _, _l, label

VIEWERS = (Role.office, Role.admin)
nav_link("web.dashboard", _l("Dashboard"), *VIEWERS)
nav_link("web.county_reports", _l("County CV reports"), *VIEWERS)


def _filters() -> dash.Filters:
    """Filters from the query string; a malformed one is a 400 naming it (nothing is guessed)."""
    a = request.args

    def parse(name, conv):
        raw = a.get(name, "").strip()
        if not raw:
            return None
        try:
            value = conv(raw)
        except ValueError:
            abort(400, f"bad filter {name}={raw!r}")
        if isinstance(value, date) and not EARLIEST <= value <= LATEST:
            abort(400, f"bad filter {name}={raw!r}: dates run from {EARLIEST} to {LATEST}")
        return value

    state = parse("state", str)
    if state and state not in dash.STATES and state not in {s.value for s in TicketStatus}:
        abort(400, f"bad filter state={state!r}")
    return dash.Filters(county_id=parse("county_id", uuid.UUID), school_id=parse("school_id", uuid.UUID),
                        item_code=parse("item_code", str), severity=parse("severity", Severity), state=state,
                        opened_from=parse("opened_from", date.fromisoformat),
                        opened_to=parse("opened_to", date.fromisoformat))


def _counties(p) -> list[Jurisdiction]:
    return session().scalars(select(Jurisdiction).where(jurisdiction_filter(p),
                                                        Jurisdiction.level == JurisdictionLevel.county)
                             .order_by(Jurisdiction.code)).all()


def _linker(f: dash.Filters):
    """link(endpoint, [key, value], **more): a URL keeping the page's filters, with some replaced."""
    base = f.query_args()

    def link(endpoint, key=None, value=None, **more):
        args = {**base, **more}
        if key:
            args[key] = value
        return url_for(endpoint, **args)
    return link


def chart(trend: list[tuple[str, int, int]], width: int = 640, height: int = 200) -> dict:
    """Bar geometry for the trend chart (opened and closed per month), drawn as inline SVG."""
    top = max([1] + [max(o, c) for _, o, c in trend])
    slot = width / max(1, len(trend))
    bar = max(2.0, slot / 2 - 3)
    plot = height - 30
    bars = []
    for i, (month, opened, closed) in enumerate(trend):
        x = i * slot + 2
        for j, (value, kind) in enumerate(((opened, "opened"), (closed, "closed"))):
            h = round(plot * value / top, 1)
            bars.append({"x": round(x + j * (bar + 1), 1), "y": round(plot - h + 10, 1), "w": round(bar, 1), "h": h,
                         "kind": kind, "value": value, "month": month})
    labels = [{"x": round(i * slot + slot / 2, 1), "text": m[2:]} for i, (m, _, _) in enumerate(trend)]
    return {"width": width, "height": height, "bars": bars, "labels": labels, "top": top}


@bp.get("/dashboard")
def dashboard():
    """Counts by county, school and indicator; aging; closure; trend; links to drill down and export."""
    p = _principal(*VIEWERS)
    f = _filters()
    s = dash.summary(session(), p, f)
    names = words.indicator_names()
    codes = sorted(set(names) | {r.key for r in s.by_indicator} | ({f.item_code} if f.item_code else set()))
    return render_template("dashboard.html", s=s, f=f, link=_linker(f), chart=chart(s.trend),
                           counties=_counties(p), severities=list(Severity), states=dash.STATES,
                           indicators=[(c, names.get(c, "")) for c in codes], indicator_names=names,
                           active=_active_filters(p, f))


def _active_filters(p, f: dash.Filters) -> list[tuple[str, str, str]]:
    """The filters in force as (label, value in words, the query key), for the page to show and clear.
    A county or school outside the user's scope is shown as "–" (its name would leak that it exists)."""
    from inspections.accounts.scope import school_filter
    from inspections.org.models import School
    out = []
    if f.county_id:
        j = session().scalar(select(Jurisdiction).where(Jurisdiction.id == f.county_id, jurisdiction_filter(p)))
        out.append((_("County"), j.name if j else "–", "county_id"))
    if f.school_id:
        sch = session().scalar(select(School).where(School.id == f.school_id, school_filter(p)))
        out.append((_("School"), f"{sch.code} {sch.name}" if sch else "–", "school_id"))
    if f.item_code:
        name = words.indicator_names().get(f.item_code)
        out.append((_("Indicator"), f"{f.item_code} {name}" if name else f.item_code, "item_code"))
    if f.severity:
        out.append((_("Severity"), label("severity", f.severity), "severity"))
    if f.state:
        out.append((_("State"), label("state", f.state) if f.state in dash.STATES else label("status", f.state),
                    "state"))
    if f.opened_from:
        out.append((_("Opened from"), f.opened_from.isoformat(), "opened_from"))
    if f.opened_to:
        out.append((_("Opened to"), f.opened_to.isoformat(), "opened_to"))
    return out


def _cursor(row) -> str:
    """The drill-down's page cursor: the last row's deadline (tickets with none sort last) and id."""
    raw = f"{(row.Ticket.due_date or dash.NO_DUE).isoformat()}|{row.Ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _after(raw: str | None):
    if not raw:
        return None
    try:
        day, tid = base64.urlsafe_b64decode(raw.encode()).decode().split("|")
        return date.fromisoformat(day), uuid.UUID(tid)
    except (ValueError, UnicodeDecodeError):
        abort(400, "bad page cursor")


@bp.get("/dashboard/tickets")
def dashboard_tickets():
    """The tickets behind a number: filtered, 100 a page, each linking to its page and evidence."""
    p = _principal(*VIEWERS)
    f = _filters()
    rows = dash.tickets_by_due(session(), p, f, after=_after(request.args.get("after")), limit=101)
    more = len(rows) > 100
    rows = rows[:100]
    nxt = url_for("web.dashboard_tickets", **f.query_args(), after=_cursor(rows[-1])) if more else None
    return render_template("dashboard_tickets.html", rows=rows, f=f, link=_linker(f), next_url=nxt,
                           active=_active_filters(p, f),
                           today=clock.today(), open_states=dash.OPEN_STATES)


def _export_name(ext: str) -> str:
    from inspections import clock
    return f"tickets-{clock.local(clock.now()):%Y%m%d-%H%M}.{ext}"


@bp.get("/dashboard/export.csv")
def export_csv():
    """Every ticket matching the filters as CSV (UTF-8 with BOM so Excel reads the Chinese), streamed."""
    p = _principal(*VIEWERS)
    f = _filters()
    today = clock.today()
    db = session()

    def generate():
        buf = io.StringIO()
        w = SafeWriter(buf)  # text stays text: a school named "=HYPERLINK(...)" is no formula
        w.writerow(words.export_columns())
        yield "\ufeff" + buf.getvalue()
        for page in dash.export_pages(db, p, f, today, row=words.export_row):
            buf.seek(0)
            buf.truncate()
            w.writerows(page)
            yield buf.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={_export_name('csv')}"})


@bp.get("/dashboard/export.xlsx")
def export_xlsx():
    """Every ticket matching the filters as an Excel workbook (XlsxWriter, constant memory)."""
    import tempfile

    import xlsxwriter
    p = _principal(*VIEWERS)
    f = _filters()
    today = clock.today()
    tmp = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    book = xlsxwriter.Workbook(tmp, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir(),
                                     **XLSX_OPTIONS})  # a school named "=HYPERLINK(...)" stays text
    sheet = book.add_worksheet(_("Rectification tickets")[:31])
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, words.export_columns(), bold)
    i = 0
    for page in dash.export_pages(session(), p, f, today, row=words.export_row):
        for values in page:
            i += 1
            sheet.write_row(i, 0, values)
    book.close()
    tmp.seek(0)
    return Response(stream_with_context(iter(lambda: tmp.read(1 << 16), b"")),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={_export_name('xlsx')}"})
