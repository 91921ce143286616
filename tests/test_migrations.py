"""Migrations build the schema from empty, on PostgreSQL and SQLite, and match the models."""
from __future__ import annotations

import contextlib
import warnings

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from inspections.db import Base, make_engine
from server.cli import alembic_config
from tests import services
from tests.conftest import BACKEND



@contextlib.contextmanager
def _empty_database(backend, base_app, tmp_path):
    """(engine, alembic config) on an empty scratch database of that backend, dropped afterwards."""
    if backend == "postgresql" and not BACKEND["real"]:
        pytest.skip("PostgreSQL not running (make test says so at the top; CI=true requires it)")
    url = services.create_pg_database() if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    try:
        cfg = alembic_config(base_app)
        cfg.attributes["engine"] = engine
        yield engine, cfg
    finally:
        engine.dispose()
        if backend == "postgresql":
            services.drop_pg_database(url)


def _folded_indexes(conn) -> set[str]:
    names = ("uq_users_username_folded", "uq_schools_code_folded")
    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (?, ?)"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE indexname IN (%s, %s)"
    return {row[0] for row in conn.exec_driver_sql(sql, names)}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_empty_to_head_and_back(backend, base_app, tmp_path):
    with _empty_database(backend, base_app, tmp_path) as (engine, cfg):
        command.upgrade(cfg, "head")
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        # The migrations describe exactly what the models declare.
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection skips indexes on expressions (the case-folded unique names): their
            # presence is checked below instead.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        with engine.connect() as conn:
            assert _folded_indexes(conn) == {"uq_users_username_folded", "uq_schools_code_folded"}
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert "visits" in inspect(engine).get_table_names()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_idempotency_rows_survive_0010_both_ways(backend, base_app, tmp_path):
    """Rows pushed before 0010 keep answering retries after it, and a downgrade numbers them again."""
    from sqlalchemy import text
    user = "0b7d2c3e6f5a4c1e9d8b2a1f0e9c8d7b"  # as SQLAlchemy's Uuid stores it on SQLite; PostgreSQL reads it too
    with _empty_database(backend, base_app, tmp_path) as (engine, cfg):
        command.upgrade(cfg, "0009")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, active, locale, "
                              "created_at, updated_at, sync_epoch) VALUES (:u, 'i1', 'I', 'x', 'inspector', "
                              "true, 'zh-CN', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"), {"u": user})
            for mid in ("m1", "m2"):
                conn.execute(text("INSERT INTO sync_mutations (device_id, mutation_id, user_id, result, received_at) "
                                  "VALUES ('d1', :m, :u, '{\"status\": \"applied\"}', CURRENT_TIMESTAMP)"),
                             {"m": mid, "u": user})
        command.upgrade(cfg, "0010")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT mutation_id FROM sync_mutations ORDER BY mutation_id")).scalars().all() \
                == ["m1", "m2"]
        with pytest.raises(Exception):  # the key refuses a second row for the same mutation
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO sync_mutations (device_id, mutation_id, user_id, result, received_at) "
                                  "VALUES ('d1', 'm1', :u, '{}', CURRENT_TIMESTAMP)"), {"u": user})
        command.downgrade(cfg, "0009")
        with engine.begin() as conn:
            ids = conn.execute(text("SELECT id FROM sync_mutations ORDER BY mutation_id")).scalars().all()
            assert len(set(ids)) == 2 and None not in ids
            conn.execute(text("INSERT INTO sync_mutations (device_id, mutation_id, user_id, result, received_at) "
                              "VALUES ('d1', 'm3', :u, '{}', CURRENT_TIMESTAMP)"), {"u": user})
            assert conn.execute(text("SELECT count(DISTINCT id) FROM sync_mutations")).scalar() == 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0018_stops_on_names_differing_only_in_case_then_refuses_new_ones(backend, base_app, tmp_path):
    """Usernames in two cases (made before the index, by two requests at once) stop the upgrade with the
    names to rename; once renamed, the index refuses a new pair, whoever writes it."""
    from sqlalchemy import text
    insert = text("INSERT INTO users (id, username, display_name, password_hash, role, active, locale, created_at, "
                  "updated_at, sync_epoch, session_version) VALUES (:id, :name, 'I', 'x', 'inspector', true, 'zh-CN', "
                  "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, 0)")
    with _empty_database(backend, base_app, tmp_path) as (engine, cfg):
        command.upgrade(cfg, "0017")
        with engine.begin() as conn:
            conn.execute(insert, {"id": "1b7d2c3e6f5a4c1e9d8b2a1f0e9c8d7b", "name": "office-wang"})
            conn.execute(insert, {"id": "2b7d2c3e6f5a4c1e9d8b2a1f0e9c8d7b", "name": "Office-Wang"})
        with pytest.raises(RuntimeError, match=r"users.username holds values that differ only in case \(office-wang\)"):
            command.upgrade(cfg, "0018")
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET username = 'office-wang-2' WHERE username = 'Office-Wang'"))
        command.upgrade(cfg, "0018")
        with pytest.raises(IntegrityError):
            with engine.begin() as conn:
                conn.execute(insert, {"id": "3b7d2c3e6f5a4c1e9d8b2a1f0e9c8d7b", "name": "OFFICE-WANG"})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0022_counts_the_visits_a_reused_photo_named(backend, base_app, tmp_path):
    """Flags stored before 0022 named the other visits holding a photo's file: on the photo, and in the change
    row and revision that carry it to devices. After it they say how many, and other flags stay as they were."""
    import json
    import uuid

    from sqlalchemy import text
    old = {"exif": {"make": "X"}, "flags": [{"code": "far_from_school", "km": 5.9, "source": "exif"},
                                             {"code": "reused", "visit_ids": ["v-1", "v-2"]}]}
    new = {"exif": {"make": "X"}, "flags": [{"code": "far_from_school", "km": 5.9, "source": "exif"},
                                             {"code": "reused", "visits": 2}]}
    clean = {"flags": [{"code": "far_from_school", "km": 1.0, "source": "device"}]}
    pid, other = uuid.uuid4(), uuid.uuid4()
    ids = {"p": pid.hex if backend == "sqlite" else str(pid), "o": other.hex if backend == "sqlite" else str(other)}
    with _empty_database(backend, base_app, tmp_path) as (engine, cfg):
        command.upgrade(cfg, "0021")
        with engine.begin() as conn:
            for key, ev in (("p", old), ("o", clean)):
                conn.execute(text("INSERT INTO photos (id, sha256, size, content_type, status, received_at, evidence, "
                                  "received_bytes, chunks, flagged) VALUES (:id, 'ab', 1, 'image/jpeg', 'processed', "
                                  "CURRENT_TIMESTAMP, :ev, 1, '[]', true)"), {"id": ids[key], "ev": json.dumps(ev)})
            conn.execute(text("INSERT INTO sync_changes (txn_id, entity, entity_id, op, version, data, changed_at) "
                              "VALUES (:t, 'photo', :id, 'upsert', 2, :d, CURRENT_TIMESTAMP)"),
                         {"t": ids["o"], "id": ids["p"], "d": json.dumps({"id": str(pid), "evidence": old})})
            conn.execute(text("INSERT INTO sync_revisions (entity, entity_id, version, data, created_at) "
                              "VALUES ('photo', :id, 1, :d, CURRENT_TIMESTAMP)"),
                         {"id": ids["p"], "d": json.dumps({"id": str(pid), "evidence": old})})
        command.upgrade(cfg, "0022")
        with engine.begin() as conn:
            read = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731
            photos = {r[0]: read(r[1]) for r in conn.execute(text("SELECT id, evidence FROM photos"))}
            assert sorted(photos.values(), key=json.dumps) == sorted([new, clean], key=json.dumps)
            for table in ("sync_changes", "sync_revisions"):
                data = read(conn.execute(text(f"SELECT data FROM {table}")).scalar_one())
                assert data == {"id": str(pid), "evidence": new}, table
