"""Which real services this test run uses (decided once, before the app is built)."""
from __future__ import annotations

import os
import socket
import uuid

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def real_services_available() -> bool:
    """PostgreSQL and Redis both answer on their standard local ports."""
    return _answers("127.0.0.1", 5432) and _answers("127.0.0.1", 6379)


def create_pg_database() -> str:
    """Create a throwaway database and return its URL."""
    import psycopg
    name = f"inspections_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # A throwaway database need not wait for fsync on every commit.
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database."""
    import psycopg
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
