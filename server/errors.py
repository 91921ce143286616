"""Every error as application/problem+json (RFC 9457), with field messages for validation."""
from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from inspections.errors import DomainError
from inspections.templates.models import ImmutableVersionError

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TITLES = {422: "Validation failed", 400: "Bad request", 401: "Authentication required", 403: "Forbidden",
          404: "Not found", 409: "Conflict", 413: "Request body too large", 429: "Too many requests",
          405: "Method not allowed", 415: "Unsupported media type", 500: "Internal server error",
          503: "Service unavailable", 410: "Gone"}


def _flatten(errors) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); keep field paths flat."""
    out: dict[str, list[str]] = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            out.setdefault(prefix or "_body", []).extend(node)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(f"{prefix}.{i}", v)
        else:
            out.setdefault(prefix or "_body", []).append(str(node))

    if isinstance(errors, dict):
        for loc, v in errors.items():
            # Drop the location level for the body, keep it for query/path/headers.
            walk("" if loc == "json" else loc, v)
    else:
        walk("", errors)
    return out


def problem(status: int, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None,
            **extra) -> Response:
    """Build a problem+json response."""
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    text = json.dumps(body, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate echoed from the request: escape everything instead
        data = json.dumps(body, ensure_ascii=True).encode()
    resp = Response(data, status=status, mimetype=PROBLEM)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class ProblemApi(Api):
    """flask-smorest Api whose HTTP errors are problem+json documents."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        status = error.code or 500
        if status == 422 or (status == 400 and errors):
            # Unprocessable content: the body parsed but fields are wrong; broken JSON stays 400.
            flat = _flatten(errors) if errors else {}
            if status == 400 and flat.get("_body") == ["Invalid JSON body."] or flat.get("json") == ["Invalid JSON body."]:
                return problem(400, "The request body is not valid JSON.")
            return problem(422 if status in (400, 422) else status, data.get("message") or "Some fields are invalid.",
                           errors=flat)
        headers = dict(data.get("headers") or {})
        if status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        detail = data.get("message") or (error.description if status != 500 else None)
        return problem(status, detail, headers=headers)


def register(app: Flask) -> None:
    """Map domain errors and unexpected failures to problem responses."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return problem(err.status, err.message, errors=err.fields or None)

    @app.errorhandler(ImmutableVersionError)
    def _immutable(err):
        return problem(409, str(err))

    @app.errorhandler(IntegrityError)
    def _integrity(err):
        # A concurrent request won a unique race; nothing of this request was committed.
        log.info("integrity error on %s %s: %s", request.method, request.path, err.orig)
        return problem(409, "The change conflicts with existing data (a concurrent change or a duplicate).")

    @app.errorhandler(OperationalError)
    def _db_down(err):
        log.exception("database error")
        return problem(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(err):
        if isinstance(err, HTTPException):
            return app.extensions["api"].handle_http_exception(err)
        if isinstance(err, RecursionError) and request.is_json:
            # The JSON parser recursed into arrays or objects nested hundreds deep: no request of ours is.
            return problem(400, "The request body is nested too deeply.")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "An unexpected error occurred; it has been logged.")
