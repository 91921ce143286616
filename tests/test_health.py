"""Liveness and readiness."""
from __future__ import annotations

from server import create_app


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_checks_everything_configured(app, client):
    r = client.get("/readyz")
    assert r.status_code == 200
    expected = {"database", "storage"} | ({"redis"} if app.config["REDIS_URL"] else set())
    assert set(r.json["checks"]) == expected


def test_readyz_names_what_failed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "VAR_DIR": str(tmp_path),
                      "STORAGE_URL": str(blocker / "blobs"), "REDIS_URL": "redis://127.0.0.1:1/0",
                      "SECRET_KEY": "x"})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.content_type == "application/problem+json"
    assert r.json["checks"]["database"] == "ok"
    assert r.json["checks"]["redis"].startswith("failed")
    assert r.json["checks"]["storage"].startswith("failed")
    assert "redis" in r.json["detail"] and "storage" in r.json["detail"]
