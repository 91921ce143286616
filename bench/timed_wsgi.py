"""`wsgi:app` with two response headers for the benchmarks: X-Server-Ms (wall time inside the worker,
from the WSGI call to the end of the body) and X-Cpu-Ms (CPU time of the worker thread meanwhile).

Only for bench/photo_upload.py, which starts gunicorn with a copy of it; never deployed.
The CPU figure hardly moves with the load of a shared machine, unlike the wall time.
"""
from __future__ import annotations

import time

from wsgi import app as _app


def app(environ, start_response):
    t, c = time.perf_counter(), time.thread_time()
    held = {}

    def hold(status, headers, exc_info=None):
        held["args"] = (status, list(headers), exc_info)
        return lambda data: None  # the deprecated write() callable: unused by Flask

    body = b"".join(_app(environ, hold))
    status, headers, exc_info = held["args"]
    headers += [("X-Server-Ms", f"{(time.perf_counter() - t) * 1000:.2f}"),
                ("X-Cpu-Ms", f"{(time.thread_time() - c) * 1000:.2f}")]
    start_response(status, headers, exc_info)
    return [body]
