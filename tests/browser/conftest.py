"""A live server on 127.0.0.1 (the test app, on the run's database) and a headless Chromium page."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, chromium_missing

try:
    from playwright.sync_api import expect
    # `make test` runs two test processes beside the database and Chromium on as few as two cores: an
    # assertion waits up to 15 s for the page to get there (Playwright's default, 5 s, was passed under
    # that load by a page that got there). A page that never does still fails.
    expect.set_options(timeout=15_000)
except ImportError:  # pragma: no cover - without the dev requirements the browser tests are not collected
    pass

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.fixture(scope="session")
def chromium_path():
    if chromium_missing():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: browser tests need {CHROMIUM} (apt-get install chromium chromium-driver)")
        pytest.skip(f"{CHROMIUM} not found: browser tests skipped (apt-get install chromium chromium-driver)")
    return CHROMIUM


@pytest.fixture
def live_server(app):
    """The app served by werkzeug in a thread; yields its base URL."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=ARGS)
        _log_pages(b)
        try:
            yield b
        finally:
            b.close()


def _log_pages(b) -> None:
    """Each context's console errors and warnings and uncaught page errors, printed with the time: pytest
    shows them beside a failure (a test that fails once under load then says what the page was doing)."""
    import time
    new_context = b.new_context

    def logged(*args, **kwargs):
        ctx = new_context(*args, **kwargs)
        stamp = lambda: time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"  # noqa: E731
        ctx.on("console", lambda m: m.type in ("error", "warning") and print(f"{stamp()} console.{m.type}: {m.text}"))
        ctx.on("weberror", lambda e: print(f"{stamp()} page error: {e.error}"))
        return ctx
    b.new_context = logged


@pytest.fixture
def shots(request):
    """shots(page, name): a full-page screenshot kept under test-artifacts/browser/<test>/."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # this run's screenshots only
        old.unlink()
    n = iter(range(1, 100))

    def take(page, name: str) -> Path:
        path = folder / f"{next(n):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
