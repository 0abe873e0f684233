"""Alembic migrations of the monitor database (applied by netready.monitor.db.upgrade)."""
