"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import _database_url
from flask_migrate import downgrade, upgrade

from app import create_app
from models import db


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_matches_models_and_downgrades(tmp_path, kind):
    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(kind, tmp_path),
                      "SECRET_KEY": "x"})
    with app.app_context():
        if kind == "postgres":
            db.drop_all()
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
        assert {"credentials", "email_messages", "email_events", "api_keys"} <= tables
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
