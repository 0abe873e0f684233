"""Answers shared by all the targets of one batch run: zone cuts, keys and signatures above the portals.

A batch of a thousand .gov.vn portals asks the root, vn. and gov.vn. the same questions a thousand
times (referrals, DS, DNSKEY) and parses the same responses a thousand times. While a run is active
(`active()`, entered by netready.scan for a batch), probes keep such answers here, for no longer than
their DNS TTL and only while they were successful, so a transient failure is never shared. Outside a
run nothing is cached: a single `netready dnssec NAME` always asks afresh.

Entries are bounded (least recently used first out), so per-target answers that happen to be stored
cannot grow memory with the size of the batch.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

DEFAULT_MAX_ENTRIES = 160  # the hot set (root, TLDs, name server hosts) is small; per-target answers churn
MAX_TTL = 3600.0  # even a day-long TTL is re-asked after an hour of scanning


class RunCache:
    """A thread-safe TTL + LRU map; values are whatever the probe stores (futures, server lists...)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        now = time.monotonic()
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] <= now:
                if item is not None:
                    del self._data[key]
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._data[key] = (now + min(ttl, MAX_TTL), value)
            self._data.move_to_end(key)
            self._evict(now)

    def setdefault(self, key: Hashable, value: Any, ttl: float) -> tuple[Any, bool]:
        """(the live value under key, True) or store `value` and return (value, False)."""
        return self.get_or_make(key, lambda: value, ttl)

    def expire(self, key: Hashable, value: Any, ttl: float) -> None:
        """Re-set the lifetime of key (only if it still holds `value`); ttl <= 0 removes it."""
        with self._lock:
            item = self._data.get(key)
            if item is None or item[1] is not value:
                return
            if ttl <= 0:
                del self._data[key]
            else:
                self._data[key] = (time.monotonic() + min(ttl, MAX_TTL), value)

    def get_or_make(self, key: Hashable, make: Callable[[], Any], ttl: float) -> tuple[Any, bool]:
        """(the live value under key, True), or (make() stored under key, False). make runs under the
        lock, so it must only start work (submit a query), never wait for it."""
        now = time.monotonic()
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[0] > now:
                self._data.move_to_end(key)
                self.hits += 1
                return item[1], True
            self.misses += 1
            value = make()
            self._data[key] = (now + min(ttl, MAX_TTL), value)
            self._data.move_to_end(key)
            self._evict(now)
            return value, False

    def _evict(self, now: float) -> None:
        """Over the bound: least recently used out. Then, from the same end, entries whose time is up: nobody
        asks again for an answer of a target checked minutes ago (the peer store's SOA answers and page GETs
        live seconds), and an expired entry only dropped on lookup would keep its parsed response in memory
        until the bound pushed it out."""
        data = self._data
        while len(data) > self.max_entries:
            data.popitem(last=False)
        while data:
            oldest = next(iter(data.values()))
            if oldest[0] > now:
                break
            data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "hits": self.hits, "misses": self.misses}


_ACTIVE: RunCache | None = None
_PEERS: RunCache | None = None  # per-target questions two probes of one target both ask (see peer_query)
# A separate store, so per-target entries never push the hot set out of _ACTIVE; small, because each
# entry holds a parsed response only needed until the other probe of the same target (seconds) takes it.
PEER_MAX_ENTRIES = 512
_USERS = 0
_LOCK = threading.Lock()


def current() -> RunCache | None:
    """The cache of the batch in progress, or None (then probes ask afresh)."""
    return _ACTIVE


@contextlib.contextmanager
def active(max_entries: int = DEFAULT_MAX_ENTRIES) -> Iterator[RunCache]:
    """Share answers between the targets checked inside this block (nested/concurrent runs share one)."""
    global _ACTIVE, _PEERS, _USERS
    with _LOCK:
        if _ACTIVE is None:
            _ACTIVE = RunCache(max_entries)
            _PEERS = RunCache(PEER_MAX_ENTRIES)
        _USERS += 1
        cache = _ACTIVE
    try:
        yield cache
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0:
                _ACTIVE = _PEERS = None


def peer_query(key: Hashable, make: Callable[[], Any], ttl: float) -> tuple[Any, bool]:
    """The same per-target question asked by two probes of one target (the SOA of the portal's zone over
    UDP and TCP from each name server address: the DNSSEC server check and the IPv6 name-server check)
    goes out once in a batch run: (the first asker's future, True) or (make(), False). Outside a run
    make() is simply called. Each probe still derives its own facts from the shared raw response."""
    peers = _PEERS
    if peers is None:
        return make(), False
    return peers.get_or_make(key, make, ttl)


def peer_compute(key: Hashable, compute: Callable[[], Any], ttl: float, wait: float) -> tuple[Any, bool]:
    """peer_query for work done in the asking thread: the first asker runs compute() and publishes its
    result; the other waits up to `wait` seconds for it, and computes itself if it never came (the first
    failed or ran out of time). Returns (result, taken from the other probe). Outside a run: (compute(), False)."""
    from concurrent.futures import Future

    mine: Future = Future()
    fut, hit = peer_query(key, lambda: mine, ttl)
    if hit:
        try:
            return fut.result(timeout=wait), True
        except Exception:  # noqa: BLE001 - the other probe's work did not finish: do it here
            return compute(), False
    try:
        result = compute()
    except BaseException as exc:  # never leave the other probe waiting
        mine.set_exception(exc)
        raise
    mine.set_result(result)
    return result, False


def response_ttl(response: Any) -> float:
    """The lifetime of a DNS response: the smallest TTL of its answer and authority RRsets (0 if none)."""
    ttls = [rr.ttl for section in (response.answer, response.authority) for rr in section]
    return float(min(ttls)) if ttls else 0.0
