"""Shared set-up for the sync benchmarks: a scratch PostgreSQL database, a world, machine facts."""
from __future__ import annotations

import contextlib
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
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


@dataclass
class BenchWorld:
    """One province, cities A and B; counties A1, A2 (city A) and B1 (city B); an inspector of A1."""

    county_a1: object
    school_a1: object
    school_a1b: object
    school_a2: object
    school_b1: object
    inspector_a1: object


def make_world(session) -> BenchWorld:
    """The benchmarks' data, made through the domain services (built-in templates included)."""
    from inspections.accounts import service as accounts
    from inspections.accounts.enums import Role
    from inspections.org import service as org
    from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind
    from inspections.templates.service import ensure_builtin
    ensure_builtin(session)
    n = itertools.count(1)

    def node(level, parent=None):
        i = next(n)
        return org.create_jurisdiction(session, code=f"B{i:05d}", name=f"Bench jurisdiction {i}", level=level,
                                       parent=parent)

    def school(county, kind=SchoolKind.primary):
        i = next(n)
        enrolment = {"enrolment_primary": 600} if kind == SchoolKind.primary else {"enrolment_junior": 600}
        return org.create_school(session, county=county, code=f"BS{i:05d}", name=f"Bench school {i}", kind=kind,
                                 locale=Locale.urban, **enrolment)

    p = node(JurisdictionLevel.province)
    ca, cb = node(JurisdictionLevel.city, p), node(JurisdictionLevel.city, p)
    county = JurisdictionLevel.county
    a1, a2, b1 = node(county, ca), node(county, ca), node(county, cb)
    inspector = accounts.create_user(session, username="bench-inspector", password="password-123",
                                     role=Role.inspector, jurisdiction_id=a1.id, school_id=None, assigned_school_ids=[])
    w = BenchWorld(county_a1=a1, school_a1=school(a1), school_a1b=school(a1, SchoolKind.junior), school_a2=school(a2),
                   school_b1=school(b1), inspector_a1=inspector)
    session.commit()
    return w


def token_for(session, user) -> dict:
    """An Authorization header for a user (a token issued directly)."""
    from inspections.accounts import service as accounts
    secret, _ = accounts.issue_token(session, user=user)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def answer_value(code: str, i: int = 0):
    """A value of the national item's kind (answers of another kind are refused), different for each i:
    the tests' own (`tests.factories.answer_value`)."""
    from tests.factories import answer_value as of_its_kind
    return of_its_kind(code, i)


def next_answer_value(code: str, value):
    """Another value of the item's kind than `value` (an update that changes the answer)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, list):
        return [v + 1 for v in value]
    if isinstance(value, (int, float)):
        return value + 1
    from inspections.scoring.definition import items_by_code
    from inspections.scoring.national import NATIONAL_2017
    choices = items_by_code(NATIONAL_2017)[code].get("choices") or [value]
    return choices[(choices.index(value) + 1) % len(choices)] if value in choices else value
