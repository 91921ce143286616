"""The field app (field/, a TypeScript PWA built by `make field`) served at /field/ from its build output."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

bp = Blueprint("field", __name__)
DIST = Path(__file__).resolve().parents[1] / "field" / "dist"
NOT_BUILT = ("<!doctype html><meta charset=utf-8><title>Field app not built</title>"
             "<h1>The field app is not built</h1><p>Run <code>make field</code> (needs Node 20 and npm), "
             "or <code>make run</code>, which builds it.</p>")


def dist() -> Path:
    """Where the built app is (FIELD_DIST overrides, e.g. for a packaged build)."""
    return Path(current_app.config.get("FIELD_DIST") or os.environ.get("FIELD_DIST") or DIST)


def _index():
    folder = dist()
    if not (folder / "index.html").is_file():
        return Response(NOT_BUILT, status=503, mimetype="text/html")
    resp = send_from_directory(folder, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/field")
@bp.get("/field/")
def index():
    """The app shell; every client-side route is a hash on this page."""
    return _index()


@bp.get("/field/<path:filename>")
def asset(filename: str):
    """Built files: hashed assets are cached for a year; the service worker and manifest never."""
    folder = dist()
    if not (folder / filename).is_file():
        if "." not in filename.rsplit("/", 1)[-1]:
            return _index()  # a deep link into the app
        abort(404)
    hashed = filename.startswith("assets/")
    resp = send_from_directory(folder, filename, max_age=31536000 if hashed else 0)
    if filename in ("sw.js", "manifest.webmanifest", "index.html") or filename.startswith("workbox-"):
        resp.headers["Cache-Control"] = "no-cache"
    if filename == "sw.js":
        resp.headers["Service-Worker-Allowed"] = "/field/"
    if filename.endswith(".webmanifest"):
        resp.mimetype = "application/manifest+json"
    return resp
