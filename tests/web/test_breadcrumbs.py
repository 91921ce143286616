"""Every signed-in page says where it is: breadcrumbs starting at the user's start page, in the page's
language."""
from __future__ import annotations

import re

import pytest

from inspections.planning.models import VisitSchedule
from inspections.templates.models import TemplateVersion
from inspections.tickets.models import Ticket
from inspections.visits.models import Visit
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf, login

CRUMBS = re.compile(r'<nav class="crumbs" aria-label="([^"]+)">(.*?)</nav>', re.S)


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    w.visit = session.query(Visit).filter(Visit.school_id == w.school_a1.id).one()
    w.ticket = session.query(Ticket).one()
    w.version = session.query(TemplateVersion).first()
    return w


def _pages(client, session, w) -> dict[str, list[str]]:
    login(client, w.office_a1.username)
    r = client.post("/web/planning/schedules", data={"csrf_token": csrf(client.get("/web/planning")),
                                           "school_id": str(w.school_a1.id), "recurrence": "monthly", "every": "1",
                                           "start_date": "2030-01-01", "inspector_id": str(w.inspector_a1.id)})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]
    schedule = session.query(VisitSchedule).first()
    client.post("/web/logout", data={"csrf_token": csrf(client.get("/web/dashboard"))})
    t, v = f"/web/tickets/{w.ticket.id}", f"/web/visits/{w.visit.id}"
    return {
        w.school_user_a1.username: ["/web/tickets", t],
        w.inspector_a1.username: ["/web/my-visits", "/web/visits", v, t, "/web/schools"],
        w.office_a1.username: ["/web/dashboard", "/web/dashboard/tickets?state=open", "/web/dashboard/counties",
                               "/web/visits", v, t, "/web/planning", f"/web/planning/schedules/{schedule.id}",
                               f"/web/planning/schedules/{schedule.id}/delete", "/web/templates",
                               f"/web/templates/{w.version.template_id}", f"/web/templates/versions/{w.version.id}",
                               "/web/schools", f"/web/schools/{w.school_a1.id}", "/web/users",
                               f"/web/users/{w.inspector_a1.id}"],
    }


def test_every_page_has_breadcrumbs_in_its_language(client, session, world):
    for username, paths in _pages(client, session, world).items():
        login(client, username)
        for lang, start, here in (("en", "Start", "You are here"), ("zh-CN", "首页", None)):
            for path in paths:
                sep = "&" if "?" in path else "?"
                r = client.get(f"{path}{sep}lang={lang}")
                assert r.status_code == 200, (username, path)
                m = CRUMBS.search(r.get_data(as_text=True))
                assert m, f"{username} {path}: no breadcrumbs"
                label, trail = m.groups()
                assert re.match(rf'<a href="/web/">{start}</a>', trail), (path, trail)
                if here:
                    assert label == here
        client.post("/web/logout", data={"csrf_token": csrf(client.get("/web/tickets"))})
