"""Flask serves the built field app at /field/: the shell, its service worker and manifest, no CDN."""
from __future__ import annotations

import re


def test_shell_service_worker_and_manifest_are_served(client, field_dist):
    r = client.get("/field/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-cache"
    assets = re.findall(r'(?:src|href)="(/field/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".webmanifest") for a in assets)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "everything is served locally"
    for a in assets:
        got = client.get(a)
        assert got.status_code == 200, a
        if "/assets/" in a:
            assert "max-age=31536000" in got.headers["Cache-Control"]
    sw = client.get("/field/sw.js")
    assert sw.status_code == 200 and sw.headers["Cache-Control"] == "no-cache"
    assert "index.html" in sw.get_data(as_text=True)  # the shell is precached
    m = client.get("/field/manifest.webmanifest")
    assert m.mimetype == "application/manifest+json"
    assert m.json["start_url"] == "/field/" and {i["sizes"] for i in m.json["icons"]} >= {"192x192", "512x512"}
    assert client.get("/field/icons/icon-512.png").status_code == 200
    assert client.get("/field/no-such.js").status_code == 404
    assert client.get("/field/visits").status_code == 200  # a deep link gets the shell


def test_unbuilt_app_says_how_to_build_it(app, client, tmp_path):
    app.config["FIELD_DIST"] = str(tmp_path)
    try:
        r = client.get("/field/")
    finally:
        app.config.pop("FIELD_DIST")
    assert r.status_code == 503 and "make field" in r.get_data(as_text=True)
