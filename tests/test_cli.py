"""CLI commands: create-user and load-demo (whose printed logins must work)."""
from __future__ import annotations

import re

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
