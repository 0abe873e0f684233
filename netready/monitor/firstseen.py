"""The monitor's database as the "first seen" history of VN-IPV6-ONLY (netready.ipv6only_history).

`--history monitor:DB` (a SQLite path or a postgresql:// URL), and every local scan of `netready monitor run`
(which passes its own database): a host the IPv6-only check finds failing for a portal was "first seen" at the
first scan of the latest unbroken series of the portal's runs in which VN-IPV6-ONLY failed on that host. A run
in which the rule passed on the host, or did not name it, ends the series; a crashed scan judged nothing and
neither starts nor ends one (as earlier reports do in netready.ipv6only_history.ReportHistory).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.ipv6only_history import RULE_ID, HistoryError
from netready.monitor import store
from netready.monitor.db import FindingRow, Run, State, database_url, make_engine

SCHEME = "monitor"
DESCRIPTION = "netready monitor"

# One engine per database and process (a check asks once per failing host; a forked worker of a batch scan must
# not use its parent's connections).
_ENGINES: dict[tuple[int, str], Engine] = {}
_LOCK = threading.Lock()


def spec(engine: Engine) -> str:
    """The history spec naming this monitor database (password included: it stays in this machine's processes)."""
    return f"{SCHEME}:{engine.url.render_as_string(hide_password=False)}"


class MonitorHistory:
    description = DESCRIPTION

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def first_seen(self, target: str, host: str) -> str | None:
        with Session(self.engine) as session:
            try:
                portal = store.portal_by_name(session, target)
            except store.StoreError:
                return None  # not a monitored portal: no history
            runs = session.execute(select(Run.first_at, State.finding_set_id).join(State, State.id == Run.state_id)
                                   .where(Run.portal_id == portal.id, Run.view == store.view_of(portal))
                                   .order_by(Run.first_at, Run.id)).all()
            sets = {s for _t, s in runs if s is not None}
            failing: set[int] = set()
            ids = sorted(sets)
            for chunk in range(0, len(ids), 500):
                failing |= set(session.scalars(
                    select(FindingRow.set_id).where(FindingRow.set_id.in_(ids[chunk:chunk + 500]),
                                                    FindingRow.rule == RULE_ID, FindingRow.subject == host,
                                                    FindingRow.verdict == "fail")))
        since = None
        for first_at, set_id in runs:
            if set_id is None:
                continue  # crashed: judged nothing
            since = (since or first_at) if set_id in failing else None
        return datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since is not None else None


def open_source(rest: str) -> MonitorHistory:
    """The factory of `monitor:REST` (netready.ipv6only_history's built-in sources): an engine on that database
    (read only here, never migrated)."""
    if not rest:
        raise HistoryError("monitor: needs a database (monitor:/var/lib/netready/monitor.db or monitor:postgresql://...)")
    url = database_url(rest)
    if url.startswith("sqlite:///"):
        from pathlib import Path

        if not Path(url[len("sqlite:///"):]).is_file():
            raise HistoryError(f"monitor database not found: {rest}")
    with _LOCK:
        engine = _ENGINES.get((os.getpid(), url))
        if engine is None:
            engine = _ENGINES[(os.getpid(), url)] = make_engine(url)
    return MonitorHistory(engine)

