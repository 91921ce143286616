"""Response headers every answer carries: a Content-Security-Policy, no framing, no sniffing.

Written here rather than taken from Flask-Talisman: Talisman's value is mostly HTTPS redirects and
HSTS, which belong to the TLS-terminating proxy in front of this app; the headers themselves are these
few lines, and the policy differs per area (pages, the API's JSON, the bundled Swagger UI).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request

# Pages: only our own scripts, styles and images (photos may come from the S3 endpoint by redirect).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{img}; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# JSON, CSV and photo bytes: nothing in them may run or be framed, even if a browser renders one.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
# Swagger UI's page has an inline start-up script and styles of its own.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def _photo_origin(app: Flask) -> str:
    """Where presigned photo URLs point (img-src must allow the redirect's target)."""
    endpoint = app.config.get("S3_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        return f" {parts.scheme}://{parts.netloc}"
    if str(app.config.get("STORAGE_URL", "")).startswith("s3://"):
        return " https://*.amazonaws.com"
    return ""


def init_app(app: Flask) -> None:
    """Add the security headers to every response; SESSION_COOKIE_SECURE comes from config (see README)."""
    page_policy = PAGE_POLICY.format(img=_photo_origin(app))

    @app.after_request
    def _headers(resp):
        path = request.path
        if path.startswith(("/api/v1/docs", "/api/v1/docs-assets/")):
            policy = DOCS_POLICY
        elif path.startswith("/api/"):
            policy = API_POLICY
        else:
            policy = page_policy
        resp.headers.setdefault("Content-Security-Policy", policy)
        resp.headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp
