"""A PostgreSQL database of a test's own on TEST_DATABASE_URL's server: created empty, dropped
afterwards, so tests that start processes (or run alongside other test runs) share nothing."""

import os
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url


def _server_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (see README, Test)")
    return url


@contextmanager
def own_database():
    """Yield the SQLAlchemy URL (postgresql+psycopg://…) of a new, empty database."""
    server = _server_url()
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield (make_url(server).set(drivername="postgresql+psycopg", database=name)
               .render_as_string(hide_password=False))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))
