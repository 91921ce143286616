"""Browser tests: Playwright for Python driving Debian's Chromium against the app on localhost."""
from __future__ import annotations

import os

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_missing() -> bool:
    return not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK))


def chromium_status() -> str:
    if chromium_missing():
        if os.environ.get("CI", "").lower() == "true":
            return f"{CHROMIUM} missing -> will FAIL (CI=true)"
        return f"{CHROMIUM} missing -> skipped"
    return f"run with {CHROMIUM} (headless)"
