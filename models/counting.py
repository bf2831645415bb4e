"""Count tables kept in step with the rows they count: adding to them safely."""

import functools

from sqlalchemy.dialects import postgresql, sqlite


@functools.cache
def _upsert(dialect, model):
    """INSERT … ON CONFLICT DO UPDATE adding n, built once per dialect and table."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model)
    keys = [column.name for column in model.__table__.primary_key]
    return statement.on_conflict_do_update(
        index_elements=keys, set_={"n": model.__table__.c.n + statement.excluded.n})


def add(connection, model, deltas):
    """Add {key tuple, in the table's key column order: change} to the model's column n,
    one upsert per row, in key order (so two writers never deadlock)."""
    keys = [column.name for column in model.__table__.primary_key]
    rows = [{**dict(zip(keys, key, strict=True)), "n": delta}
            for key, delta in sorted(deltas.items()) if delta]
    if rows:
        connection.execute(_upsert(connection.dialect.name, model), rows)
