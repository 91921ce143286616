"""`make run`'s embedded mode boots on a fresh folder: SQLite, local blobs, in-process jobs."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_embedded_mode_migrates_loads_demo_and_serves(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL")}
    env["VAR_DIR"] = str(tmp_path / "var")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for args in (["db", "upgrade"], ["load-demo", "--if-empty"]):
        subprocess.run(flask + args, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    assert (tmp_path / "var" / "inspections.db").exists()
    port = _free_port()
    proc = subprocess.Popen(flask + ["run", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert json.load(r) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stdout.read().decode() if proc.poll() is not None else "no answer")
                time.sleep(0.3)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": "office", "password": "demo-pass-2017"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201 and json.load(r)["user"]["role"] == "office"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert json.load(r)["checks"] == {"database": "ok", "storage": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
