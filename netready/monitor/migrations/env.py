"""Alembic environment: the engine comes from netready.monitor.db.upgrade (config.attributes["engine"])."""

from __future__ import annotations

from alembic import context

from netready.monitor.db import Base

config = context.config
engine = config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
