"""Alembic's entry: migrations run on the connection index/migrate.py hands over, inside its transaction (and lock),
never on a connection of their own."""

from alembic import context

from streamer.index.schema import metadata

context.configure(
    connection=context.config.attributes["connection"], target_metadata=metadata, render_as_batch=True
)  # SQLite alters a table by copying it: batch mode does that
with context.begin_transaction():
    context.run_migrations()
