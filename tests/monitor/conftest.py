"""Fixtures of the monitor tests: a PostgreSQL server started once per session, and `engine`, a fresh monitor
database on SQLite and on PostgreSQL (tests using it run on both)."""

from __future__ import annotations

import pytest

from .servers import Postgres


@pytest.fixture(scope="session")
def postgres():
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from netready.monitor.db import open_db

    if request.param == "sqlite":
        url = str(tmp_path / "monitor.db")
    else:
        url = request.getfixturevalue("postgres").create_database()
    eng = open_db(url)
    yield eng
    eng.dispose()
