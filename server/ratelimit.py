"""Rate limits (Flask-Limiter): one sign-in budget shared by every way to sign in, and photo uploads per user.

Counters live in Redis when REDIS_URL is set (shared by every instance) and in memory when embedded.
When Redis stops answering, Flask-Limiter keeps counting in this process's memory (never a 500 at
login) and goes back to Redis once it answers again.
"""
from __future__ import annotations

import time

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded

# Every endpoint that accepts a password; they share one budget per client address and per username.
LOGIN_ENDPOINTS = ("auth.Token", "web.login")
# Endpoints that take photo bytes or declare a photo; counted per signed-in user.
UPLOAD_ENDPOINTS = ("photos.Uploads", "photos.WholeUpload", "photos.UploadById", "web.ticket_detail",
                    "reports.CountyDocuments")


def client_address() -> str:
    """The client's address (ProxyFix puts the real one here when TRUSTED_PROXIES is set)."""
    return request.remote_addr or "unknown"


def login_username() -> str:
    """The username a sign-in attempt names, from a JSON body or a form ('-' when it names none)."""
    from werkzeug.exceptions import HTTPException
    name = None
    try:
        if request.is_json:
            body = request.get_json(silent=True)
            name = body.get("username") if isinstance(body, dict) else None
        elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            name = request.form.get("username")
    except HTTPException:
        # A body refused while reading (unstorable text, too large, unreadable): the view answers that;
        # an error here would make Flask-Limiter take its storage for dead and fall back to memory.
        name = None
    return name[:80] if isinstance(name, str) and name else "-"


def uploader() -> str:
    """The signed-in user sending a photo (the address when nobody is signed in: that request fails anyway)."""
    user = g.get("user") or g.get("web_user")
    return f"user:{user.id}" if user is not None else f"addr:{client_address()}"


def init_app(app: Flask) -> Limiter:
    """Build the app's limiter (nothing connects until the first counted request)."""
    storage = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL") or "memory://"
    limiter = Limiter(key_func=client_address, app=app, storage_uri=storage, strategy="moving-window",
                      key_prefix=app.config.get("KEY_PREFIX", "") or "rl", in_memory_fallback_enabled=True,
                      storage_options={"socket_connect_timeout": 1, "socket_timeout": 1}
                      if storage.startswith("redis") else {})
    app.extensions["rate_limits"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    return limiter


def _too_many(err: RateLimitExceeded):
    """429 with Retry-After: the sign-in page again with a message on the web, problem+json elsewhere."""
    wait = retry_after()
    headers = {"Retry-After": str(wait)}
    if request.endpoint == "web.login":
        from flask import render_template

        from server.web.i18n import ngettext
        error = ngettext("Too many attempts; try again in %(num)s second",
                         "Too many attempts; try again in %(num)s seconds", wait)
        return render_template("login.html", error=error, wait=wait), 429, headers
    from server.errors import problem
    what = "sign-in attempts" if request.endpoint in LOGIN_ENDPOINTS else "uploads"
    return problem(429, f"Too many {what}; try again in {wait} s.", headers=headers)


def apply_limits(app: Flask) -> None:
    """Wrap the sign-in and upload views in their limits (after every blueprint is registered)."""
    limiter: Limiter = app.extensions["rate_limits"]
    login = [limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="login-address",
                                  key_func=client_address, methods=["POST"]),
             limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="login-user",
                                  key_func=login_username, methods=["POST"])]
    uploads = [limiter.shared_limit(lambda: current_app.config["UPLOAD_RATE_LIMIT"], scope="photo-uploads",
                                    key_func=uploader, methods=["POST", "PATCH", "PUT"])]
    for endpoints, limits in ((LOGIN_ENDPOINTS, login), (UPLOAD_ENDPOINTS, uploads)):
        for endpoint in endpoints:
            view = app.view_functions[endpoint]
            for limit in limits:
                view = limit(view)
            app.view_functions[endpoint] = view


def retry_after() -> int:
    """Seconds until the breached limit of this request lets the next attempt through (at least 1)."""
    limiter: Limiter = current_app.extensions["rate_limits"]
    current = limiter.current_limit
    try:
        reset = current.reset_at if current is not None else time.time() + 60
    except Exception:  # noqa: BLE001 - the storage went away between the check and now
        reset = time.time() + 60
    return max(1, int(reset - time.time()))


def reset(app: Flask) -> None:
    """Forget every counter of this app's limiter (tests; an operator unlocking a user)."""
    limiter: Limiter = app.extensions["rate_limits"]
    storage = limiter.storage
    prefix = app.config.get("KEY_PREFIX", "")
    client = getattr(storage, "storage", None)
    if prefix and client is not None and hasattr(client, "scan_iter"):
        # Shared Redis: delete only this app's keys, never another deployment's or test run's.
        for key in client.scan_iter(match=f"*{prefix}*", count=500):
            client.delete(key)
    else:
        storage.reset()
    fallback = getattr(limiter, "_fallback_storage", None)
    if fallback is not None:
        fallback.reset()
