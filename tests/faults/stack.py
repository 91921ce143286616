"""Throwaway processes for the fault suite: gunicorn, RQ workers, redis-server, each on a free loopback
port, bounded in time and always stopped (and waited for) on exit."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll until predicate() is truthy (returns it) or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def app_env(**settings) -> dict:
    """The process environment for the app with these settings (None removes one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STORAGE_URL",
                                                             "S3_ENDPOINT_URL", "KEY_PREFIX")}
    env["LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    for k, v in settings.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def gunicorn(env: dict, *, workers: int = 2, threads: int = 4, timeout: float = 40, log_path: Path | None = None):
    """Yield the base URL of `gunicorn wsgi:app` (as `make run` starts it) with this environment."""
    port = free_port()
    log = open(log_path or os.devnull, "ab")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads),
                             "-b", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                return True
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited (log: {log_path})")
                return False
        wait_for(up, timeout, "gunicorn to answer")
        yield base
    finally:
        _stop(proc)
        log.close()


class Worker:
    """`flask --app wsgi worker` in its own process group (worker, work horses, scheduler)."""

    def __init__(self, env: dict, log_path: Path, sweep_every: int = 5):
        self.env, self.log_path, self.sweep_every = env, log_path, sweep_every
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker",
                                      "--sweep-every", str(self.sweep_every)], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL the worker, its work horse and its scheduler (the horse runs in a session of its own)."""
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            rest = descendants(self.proc.pid)
            _stop(self.proc)
            for pid in rest:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.log.close()


class RedisServer:
    """A throwaway redis-server without persistence: a restart loses every key, as in issue 13."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_for(answers, 10, "redis-server to answer", 0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGKILL)
            self.proc = None


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 60):
    """(status, headers, parsed JSON or None) for one request; never raises on an HTTP status."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    h = {"Content-Type": "application/json"} if body is not None and not isinstance(body, bytes) else {}
    req = urllib.request.Request(url, method=method, data=data, headers={**h, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, dict(r.headers), (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return e.code, dict(e.headers), parsed


def have_redis_server() -> bool:
    return shutil.which("redis-server") is not None
