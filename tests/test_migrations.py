"""Migrations build the schema from empty, on PostgreSQL and SQLite, and match the models."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from inspections.db import Base, make_engine
from server.cli import alembic_config
from tests import services
from tests.conftest import BACKEND



@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_empty_to_head_and_back(backend, base_app, tmp_path):
    if backend == "postgresql" and not BACKEND["real"]:
        pytest.skip("PostgreSQL not running (make test says so at the top; CI=true requires it)")
    url = services.create_pg_database() if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    try:
        cfg = alembic_config(base_app)
        cfg.attributes["engine"] = engine
        command.upgrade(cfg, "head")
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        # The migrations describe exactly what the models declare.
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert "visits" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        if backend == "postgresql":
            services.drop_pg_database(url)
