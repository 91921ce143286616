"""Every error as application/problem+json (RFC 9457), with field messages for validation."""
from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from inspections.errors import DomainError, family_code
from inspections.templates.models import ImmutableVersionError
from schemas.common import field_paths

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TITLES = {422: "Validation failed", 400: "Bad request", 401: "Authentication required", 403: "Forbidden",
          404: "Not found", 409: "Conflict", 413: "Request body too large", 429: "Too many requests",
          405: "Method not allowed", 415: "Unsupported media type", 500: "Internal server error",
          503: "Service unavailable", 410: "Gone"}


def _flatten(errors) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); keep field paths flat
    (`field_paths`), without the location for the body, with it for query/path/headers."""
    if not isinstance(errors, dict):
        return field_paths(errors)
    out: dict[str, list[str]] = {}
    for loc, v in errors.items():
        for path, msgs in field_paths(v, "" if loc == "json" else loc).items():
            out.setdefault(path, []).extend(msgs)
    return out


def wants_page() -> bool:
    """A browser asking for a page (Accept prefers text/html) outside the API: errors are shown as a page.

    API clients (any /api/ address, or an Accept that does not put HTML first) keep problem+json."""
    from flask import has_request_context
    if not has_request_context() or request.path.startswith("/api/"):
        return False
    best = request.accept_mimetypes.best_match([PROBLEM, "application/json", "text/html"])
    return best == "text/html"


def problem(status: int, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None,
            **extra) -> Response:
    """Build a problem+json response (or, for a browser outside the API, the error page in its language)."""
    if wants_page():
        from server.web.errors import error_page
        return error_page(status, headers=headers)
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    # Every problem says its kind in `code` (README "Offline sync"): a domain refusal its own, any other
    # its HTTP family, what a push result gives for the same refusal.
    body.setdefault("code", family_code(status))
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


def retryable_db_error(err: BaseException) -> bool:
    """A deadlock, a serialization failure, a lock wait that timed out, SQLite's "database is locked",
    a dropped connection, or a unique key a concurrent request took first (its checks, run again, now see
    the winner and say why in words: "is already taken"): the transaction was rolled back whole and may
    simply run again."""
    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    orig = err.orig
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    import sqlite3
    return isinstance(orig, sqlite3.OperationalError) and ("locked" in str(orig) or "busy" in str(orig))


# deadlock, serialization failure, lock not available, unique violation
RETRYABLE_SQLSTATES = {"40P01", "40001", "55P03", "23505"}
COMMITS = "request_commits"  # session.info: commits so far (a retry must not repeat a committed part)


def _count_commit(sess) -> None:
    if not sess.in_nested_transaction():  # a released SAVEPOINT commits nothing yet
        sess.info[COMMITS] = sess.info.get(COMMITS, 0) + 1


def _replayable_body() -> bool:
    """Whether the view can read the request body again (JSON and forms are cached; raw chunks are not)."""
    if not request.content_length:
        return True
    return "_cached_data" in request.__dict__ or "form" in request.__dict__


def install_request_retry(app: Flask) -> None:
    """Run a view again when its transaction hit a deadlock, a serialization failure or SQLite's busy
    lock, before answering: the failed transaction was rolled back whole, so running it again is safe
    as long as the view had committed nothing yet and can read its body again. Up to DB_RETRY_ATTEMPTS
    tries with a short jittered backoff; then the error handler answers 503 + Retry-After."""
    import random
    import time

    from flask import g
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    if not event.contains(Session, "after_commit", _count_commit):
        event.listen(Session, "after_commit", _count_commit)
    dispatch = app.dispatch_request

    def dispatch_with_retry():
        attempts = int(app.config.get("DB_RETRY_ATTEMPTS", 5))
        for attempt in range(attempts):
            sess = g.get("db_session")
            before = sess.info.get(COMMITS, 0) if sess is not None else 0
            try:
                return dispatch()
            except DBAPIError as exc:
                sess = g.get("db_session")
                committed = sess is not None and sess.info.get(COMMITS, 0) != before
                if attempt == attempts - 1 or not retryable_db_error(exc) or committed or not _replayable_body():
                    raise
                log.info("retrying %s %s after %s", request.method, request.path, type(exc.orig).__name__)
                if sess is not None:
                    sess.rollback()
                time.sleep(min(0.05 * 2 ** attempt, 1.0) * (0.5 + random.random()))

    app.dispatch_request = dispatch_with_retry


def register(app: Flask) -> None:
    """Map domain errors and unexpected failures to problem responses."""
    install_request_retry(app)

    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        return problem(err.status, err.message, errors=err.fields or None, **({"code": err.code} if err.code else {}),
                       **err.extra)

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
        if retryable_db_error(err):
            # Still contended after the retries inside the server: busy, not down.
            log.warning("database contention on %s %s after retries: %s", request.method, request.path, err.orig)
            return problem(503, "The database is busy with concurrent changes; nothing of this request was "
                                "kept; send it again.", dependency="database", headers={"Retry-After": "1"})
        log.exception("database error")
        return problem(503, "The database is unavailable; try again shortly.", dependency="database",
                       headers={"Retry-After": "5"})

    @app.errorhandler(DBAPIError)
    def _db_other(err):
        if err.connection_invalidated or isinstance(err, (OperationalError, InterfaceError)):
            log.exception("database connection error")
            return problem(503, "The database is unavailable; try again shortly.", dependency="database",
                           headers={"Retry-After": "5"})
        log.exception("unhandled database error on %s %s", request.method, request.path)
        return problem(500, "An unexpected error occurred; it has been logged.")

    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        @app.errorhandler(RedisConnectionError)
        @app.errorhandler(RedisTimeoutError)
        def _redis_down(err):
            log.warning("Redis unavailable on %s %s: %s", request.method, request.path, err)
            return problem(503, "Redis (job queue and rate limits) is unavailable; try again shortly.",
                           dependency="redis", headers={"Retry-After": "10"})
    except ImportError:  # pragma: no cover - redis is a dependency
        pass

    try:
        from botocore.exceptions import ClientError as S3ClientError
        from botocore.exceptions import ConnectionError as S3ConnectionError
        from botocore.exceptions import HTTPClientError

        @app.errorhandler(S3ConnectionError)
        @app.errorhandler(HTTPClientError)
        def _s3_down(err):
            log.warning("blob storage unavailable on %s %s: %s", request.method, request.path, err)
            return problem(503, "Blob storage (S3) is unavailable; try again shortly.", dependency="storage",
                           headers={"Retry-After": "10"})

        @app.errorhandler(S3ClientError)
        def _s3_error(err):
            status = int((getattr(err, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if status >= 500 or status == 0:
                return _s3_down(err)
            log.exception("blob storage refused a request on %s %s", request.method, request.path)
            return problem(500, "An unexpected error occurred; it has been logged.")
    except ImportError:  # pragma: no cover - boto3 is a dependency
        pass

    @app.errorhandler(Exception)
    def _unexpected(err):
        if isinstance(err, HTTPException):
            return app.extensions["api"].handle_http_exception(err)
        if isinstance(err, RecursionError) and request.is_json:
            # The JSON parser recursed into arrays or objects nested hundreds deep: no request of ours is.
            return problem(400, "The request body is nested too deeply.")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "An unexpected error occurred; it has been logged.")
