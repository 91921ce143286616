"""Alembic environment: the app hands over its engine; no URL is read here."""
from alembic import context

from inspections.db import Base, import_models

import_models()
import sync.models  # noqa: E402,F401 - the sync tables live outside the domain package
target_metadata = Base.metadata
config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        # Plain `alembic` command line: take the URL from the environment.
        import os
        from inspections.db import make_engine
        engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///var/inspections.db"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `flask --app wsgi db upgrade`")
run_migrations_online()
