"""Shared set-up for the sync benchmarks: a scratch PostgreSQL database, a world, machine facts."""
from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def scratch_app():
    """A migrated app on a throwaway PostgreSQL database (dropped afterwards)."""
    from server import create_app
    from server.cli import upgrade_database
    from tests import services
    if not services.real_services_available():
        raise SystemExit("the sync benchmarks need PostgreSQL on 127.0.0.1:5432 (and Redis on :6379)")
    url = services.create_pg_database()
    var = tempfile.mkdtemp(prefix="bench-sync-")
    app = create_app({"DATABASE_URL": url, "VAR_DIR": var, "STORAGE_URL": f"{var}/blobs", "SECRET_KEY": "bench",
                      "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade_database(app)
    try:
        yield app
    finally:
        app.extensions["db_engine"].dispose()
        services.drop_pg_database(url)


def machine() -> str:
    """nproc, memory and CPU model of this machine, as recorded in docs/benchmarks.md."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"nproc {os.cpu_count()}, memory {mem}, CPU {cpu}, Python {platform.python_version()}, {pg}"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values)
