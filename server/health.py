"""Liveness and readiness probes for the load balancer."""
from __future__ import annotations

from flask import current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy import text

from server.errors import problem
from server.extensions import redis_connection, storage

blp = Blueprint("health", __name__, description="Liveness and readiness probes (no authentication).")


@blp.route("/healthz")
@blp.response(200)
def healthz():
    """The process is up (no dependency is checked)."""
    return jsonify(status="ok")


@blp.route("/readyz")
@blp.response(200)
@blp.alt_response(503, description="A dependency failed; `checks` says which")
def readyz():
    """Every dependency answers: database, Redis (when configured), blob storage."""
    checks, failed = {}, []
    try:
        with current_app.extensions["db_engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"failed: {type(exc).__name__}"
        failed.append("database")
    if current_app.config.get("REDIS_URL"):
        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"failed: {type(exc).__name__}"
            failed.append("redis")
    try:
        storage().check()
        checks["storage"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["storage"] = f"failed: {type(exc).__name__}"
        failed.append("storage")
    if failed:
        return problem(503, f"Not ready: {', '.join(failed)} failed.", checks=checks)
    return jsonify(status="ok", checks=checks)
