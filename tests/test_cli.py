"""CLI commands: create-user and load-demo (whose printed logins must work)."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from inspections.accounts.models import User
from inspections.org.models import School


def test_create_user(runner, session):
    from tests.factories import make_jurisdiction
    j = make_jurisdiction(session, code="CLI-J")
    session.commit()
    r = runner.invoke(args=["create-user", "--username", "cli-office", "--password", "secret-pass-1", "--role",
                            "office", "--jurisdiction", "CLI-J"])
    assert r.exit_code == 0, r.output
    assert session.scalar(select(User).where(User.username == "cli-office")).jurisdiction_id == j.id
    r = runner.invoke(args=["create-user", "--username", "cli-x", "--password", "secret-pass-1", "--role", "office",
                            "--jurisdiction", "NOPE"])
    assert r.exit_code != 0 and "no jurisdiction" in r.output


def test_load_demo_prints_logins_that_work(runner, client, session):
    r = runner.invoke(args=["load-demo"])
    assert r.exit_code == 0, r.output
    assert "demo:" in r.output
    assert session.scalar(select(func.count()).select_from(School)) >= 30
    logins = re.findall(r"^\s{2}(\S+)\s+(\S+)\s+(inspector|school|office|admin)\b", r.output, re.M)
    assert len(logins) >= 5
    for username, password, role in logins:
        resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert resp.status_code == 201, (username, resp.json)
        assert resp.json["user"]["role"] == role
        h = {"Authorization": f"Bearer {resp.json['access_token']}"}
        schools = client.get("/api/v1/schools?limit=500", headers=h).json["items"]
        assert schools, f"{username} sees no school"
        if role == "school":
            assert len(schools) == 1
    # Running it again with --if-empty changes nothing.
    before = session.scalar(select(func.count()).select_from(School))
    r = runner.invoke(args=["load-demo", "--if-empty"])
    assert r.exit_code == 0 and "already has data" in r.output
    assert session.scalar(select(func.count()).select_from(School)) == before


def test_demo_dashboard_shows_a_living_county(runner, session):
    """The office's first look: tickets in every state, some overdue and some not, opened over most of
    the year, histories dated between opening and closing, and the kept counts agreeing."""
    from inspections.accounts.scope import principal_for
    from inspections.tickets import dashboard as dash
    from inspections.tickets import stats
    from inspections.tickets.enums import TicketStatus
    from inspections.tickets.models import Ticket
    assert runner.invoke(args=["load-demo"]).exit_code == 0
    office = session.scalar(select(User).where(User.username == "office"))
    s = dash.summary(session, principal_for(session, office), dash.Filters())
    assert {t.status for t in session.scalars(select(Ticket))} == set(TicketStatus)
    assert 0 < s.totals.overdue < s.totals.open and s.totals.closed > 0 and s.median_days_to_close
    assert sum(1 for _m, opened, _c in s.trend if opened) >= 6
    assert sum(1 for _label, n in s.aging if n) >= 3
    for t in session.scalars(select(Ticket).where(Ticket.status == TicketStatus.closed)):
        ats = [e.at for e in t.events]
        assert min(ats) >= t.opened_at - timedelta(seconds=1) and max(ats) <= t.closed_at + timedelta(seconds=1)
    assert stats.check(session.connection()) == []
