"""The status rule in SQL (models.status.email_status_sql) gives what the Python rule gives,
for every combination of its inputs, on SQLite and PostgreSQL."""

import itertools

import pytest
import sqlalchemy as sa

from models import db
from models.states import MessageState
from models.status import email_status, email_status_sql

INPUTS = list(itertools.product((True, False), [*MessageState, None], (True, False)))


def in_sql(rows):
    """The SQL rule's status for each (has address, state, opened) row."""
    # A UNION of one-row SELECTs: SQLite cannot name the columns of a VALUES list.
    table = sa.union_all(*(
        sa.select(sa.literal(n).label("n"), sa.literal(has_address).label("has_address"),
                  sa.literal(state, sa.String).label("state"),
                  sa.literal(opened).label("opened"))
        for n, (has_address, state, opened) in enumerate(rows))).subquery("inputs")
    query = (sa.select(email_status_sql(table.c.has_address, table.c.state, table.c.opened))
             .order_by(table.c.n))
    return db.session.scalars(query).all()


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_sql_and_python_rules_agree_on_every_input(app):
    def python(has_address, state, opened):
        try:
            return email_status(has_address, state, opened).value
        except ValueError:  # a state no status follows (cancelled): SQL says NULL
            return None

    assert in_sql(INPUTS) == [python(*row) for row in INPUTS]
    # Every status comes out of some input, and only cancelled has none with an address.
    assert len({python(*row) for row in INPUTS}) == 7
    assert {state for has_address, state, opened in INPUTS
            if has_address and python(has_address, state, opened) is None} == {"cancelled"}


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_an_unknown_state_raises_in_python_and_is_null_in_sql(app):
    with pytest.raises(ValueError):
        email_status(True, "lost", False)
    assert in_sql([(True, "lost", False), (False, "lost", False)]) == [None, "not_provided"]
    assert email_status(False, "lost", False) == "not_provided"  # no address comes first
