"""Review finding 11: pages cannot be framed, carry a Content-Security-Policy, and the session cookie is
Secure when production says so; the forms' CSRF checks stay in force."""
from __future__ import annotations

import pytest

from server.config import from_env
from tests.factories import make_world
from tests.web.helpers import csrf, sign_in


@pytest.mark.parametrize("path", ["/web/login", "/web/tickets", "/api/v1/auth/me", "/api/v1/openapi.json",
                                  "/api/v1/docs", "/web/static/app.css"])
def test_every_answer_forbids_framing_and_sniffing(client, path):
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_run_only_their_own_scripts(client):
    csp = client.get("/web/login").headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    api = client.get("/api/v1/auth/me").headers["Content-Security-Policy"]
    assert api.startswith("default-src 'none'")


def test_pages_have_no_inline_styles_or_scripts_the_policy_would_block(app, client, session):
    w = make_world(session)
    assert sign_in(client, w.office_a1.username).status_code == 303
    for path in ("/web/tickets", "/web/dashboard", "/web/planning", "/web/dashboard/counties"):
        page = client.get(path).get_data(as_text=True)
        assert " style=" not in page and "<script>" not in page and " onclick=" not in page, path


def test_s3_photo_origin_is_allowed_for_images(database_url, tmp_path):
    from server import create_app
    app = create_app({"DATABASE_URL": database_url, "VAR_DIR": str(tmp_path), "SECRET_KEY": "x", "TESTING": True,
                      "STORAGE_URL": "s3://bucket", "S3_ENDPOINT_URL": "http://127.0.0.1:9000"})
    csp = app.test_client().get("/web/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: http://127.0.0.1:9000;" in csp


def test_secure_cookie_is_a_production_setting(monkeypatch):
    assert from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    cfg = from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["TRUSTED_PROXIES"] == 1
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "maybe")
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE"):
        from_env({"VAR_DIR": "/tmp/cfg-test", "SECRET_KEY": "x"})


def test_secure_cookie_is_set_secure(database_url, tmp_path):
    from server import create_app
    app = create_app({"DATABASE_URL": database_url, "VAR_DIR": str(tmp_path), "SECRET_KEY": "x", "TESTING": True,
                      "STORAGE_URL": str(tmp_path / "b"), "SESSION_COOKIE_SECURE": True})
    r = app.test_client().get("/web/login")
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(database_url, tmp_path):
    """TRUSTED_PROXIES=1: the per-address sign-in budget counts the real client, not the proxy."""
    from server import create_app
    app = create_app({"DATABASE_URL": database_url, "VAR_DIR": str(tmp_path), "SECRET_KEY": "x", "TESTING": True,
                      "STORAGE_URL": str(tmp_path / "b"), "TRUSTED_PROXIES": 1, "KEY_PREFIX": "proxy-t-"})
    c = app.test_client()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for i in range(limit + 2):  # many clients behind one proxy: none of them is limited by the others
        r = c.post("/api/v1/auth/token", json={"username": f"u{i}", "password": "x"},
                   headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == 401


def test_forms_and_session_api_writes_need_the_csrf_token(client, session):
    w = make_world(session)
    r = client.post("/web/login", data={"username": w.office_a1.username, "password": "password-123"})
    assert r.status_code == 400
    assert sign_in(client, w.office_a1.username).status_code == 303
    assert client.post("/web/logout").status_code == 400
    assert client.post("/api/v1/auth/devices", json={"id": "6f1c1c8e-3c39-4c59-9d4e-2a3a3b5e7d11", "name": "x"}
                       ).status_code == 403
    ok = client.post("/web/logout", data={"csrf_token": csrf(client.get("/web/tickets"))})
    assert ok.status_code == 303
