"""Concurrent scanning: names -> targets -> probes (in parallel) -> observations -> report.

Targets run under a bounded concurrency; the probes of one target run side by side under the
target's time budget. A probe that crashes or overruns becomes an observation with an error,
so a broken target never stops the run and never loses the other targets.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import probes
from netready import __version__
from netready.judge import judge_target, summarize
from netready.model import Finding, Observation, ProbeSettings, Report, Target, utc_now
from netready.profiles import Profile
from probes import runcache
from probes.dns import NameError_, resolve_addresses, to_ascii

DEFAULT_PROBES = tuple(probes.PROBE_MODULES)


@dataclass
class TargetResult:
    target: Target
    observations: list[Observation]
    findings: list[Finding]


def make_target(name: str, settings: ProbeSettings) -> tuple[Target, list[Observation]]:
    """Normalise the name (IDN -> punycode) and resolve its A/AAAA."""
    try:
        ascii_name = to_ascii(name)
    except NameError_ as exc:
        return Target(name=name, ascii_name=name.strip() or "(empty)", error=str(exc)), []
    ipv4, ipv6, obs = resolve_addresses(ascii_name, settings)
    target = Target(name=name, ascii_name=ascii_name, ipv4=ipv4, ipv6=ipv6)
    if obs.error and not target.addresses:
        target.error = f"name does not resolve: {obs.error}"
    elif not target.addresses:
        rcodes = {t: d.get("rcode") for t, d in obs.data.items()}
        target.error = f"name has no A or AAAA record ({', '.join(f'{t}: {r}' for t, r in rcodes.items())})"
    return target, [obs]


def _probe_failure(target: Target, name: str, message: str) -> Observation:
    return Observation(id=f"{name}:{target.ascii_name}:failure", probe=name, target=target.ascii_name,
                       subject=target.ascii_name, error=message)


def probe_target(target: Target, settings: ProbeSettings, probe_names: Iterable[str]) -> list[Observation]:
    """Run the probes of one target concurrently under its time budget."""
    observations: list[Observation] = []
    runnable = {}
    for name in probe_names:
        try:
            runnable[name] = probes.load(name)
        except Exception as exc:  # a probe that cannot even be imported is an error on it, not on the run
            observations.append(_probe_failure(target, name, f"probe unavailable: {type(exc).__name__}: {exc}"))
    pool = cf.ThreadPoolExecutor(max_workers=max(1, len(runnable)), thread_name_prefix=f"probe-{target.ascii_name}")
    futures = {pool.submit(fn, target, settings): name for name, fn in runnable.items() if fn is not None}
    deadline = time.monotonic() + settings.budget
    try:
        for fut, name in futures.items():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                observations.extend(fut.result(timeout=remaining))
            except cf.TimeoutError:
                observations.append(_probe_failure(target, name, f"time budget of {settings.budget:g} s exceeded"))
            except Exception as exc:  # a probe bug is reported on its target, the run goes on
                observations.append(_probe_failure(target, name, f"probe crashed: {type(exc).__name__}: {exc}"))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return observations


def check_one(name: str, settings: ProbeSettings, profile: Profile,
              probe_names: Iterable[str] = DEFAULT_PROBES) -> TargetResult:
    try:
        # One budget for the whole target: what the address lookup spent, the probes no longer have.
        deadline = time.monotonic() + settings.budget
        target, observations = make_target(name, settings)
        if observations:  # the name was valid; even without addresses DNSSEC can still prove the denial
            left = dataclasses.replace(settings, budget=max(0.0, deadline - time.monotonic()))
            observations.extend(probe_target(target, left, probe_names))
    except Exception as exc:  # a bug on one name must not stop the batch: that name gets the error
        target = Target(name=name, ascii_name=name.strip() or "(empty)",
                        error=f"check crashed: {type(exc).__name__}: {exc}")
        observations = []
    target, observations = admit(target, observations)
    return TargetResult(target, observations, judge_target(target, observations, profile))


def admit(target: Target, observations: list[Observation]) -> tuple[Target, list[Observation]]:
    """Where probe results enter the model: control characters the servers (or the input list) sent are
    escaped here, once (netready.sanitize), so every judge message and renderer works on safe text."""
    return target.cleaned(), [o.clean() for o in observations]


@dataclass
class ScanOutcome:
    """Results in input order (none when the caller kept them itself: keep="none"), the names that finished,
    and whether the run was cut short (Ctrl-C)."""

    results: list[TargetResult]
    interrupted: bool = False
    finished: int = 0  # names checked (or taken from `done`), whatever was kept


# Below this many names one process is enough (starting a worker costs about a second of imports).
MIN_NAMES_PER_PROCESS = 100
WORKER_NICE = 5


def auto_processes(n_names: int) -> int:
    """Worker processes for a batch: the GIL caps one process at one core of Python (DNS parsing,
    signature checks and hello parsing are CPU-bound), so a large batch uses every core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, n_names // MIN_NAMES_PER_PROCESS))


def scan_results(
    names: list[str],
    settings: ProbeSettings,
    profile: Profile,
    concurrency: int = 8,
    probe_names: Iterable[str] = DEFAULT_PROBES,
    on_result: Callable[[TargetResult], None] | None = None,
    done: dict[str, TargetResult] | set[str] | None = None,
    processes: int = 1,
    keep: str = "all",
) -> ScanOutcome:
    """Check every name not already in `done`; on Ctrl-C, return what finished so far.

    processes > 1 spreads the names over that many worker processes (each with concurrency/processes
    threads); results come back to this process, in input order, exactly as with one process.
    keep="all": every result stays in memory and is returned. keep="none": a result is handed to on_result
    (e.g. journaled) and dropped, so memory does not grow with the number of names (a national batch);
    only the names that finished are remembered.
    """
    if keep not in ("all", "none"):
        raise ValueError(f"keep must be 'all' or 'none', not {keep!r}")
    probe_names = tuple(probe_names)
    seen = _Finished(names, done, keep == "all")
    todo = [n for n in names if n not in seen]
    user_callback = on_result

    def record(result: TargetResult) -> None:
        if user_callback:
            user_callback(result)
        seen.add(result)

    if processes > 1 and len(todo) > 1:
        interrupted = _scan_processes(todo, settings, profile, concurrency, probe_names, record, seen,
                                      min(processes, len(todo)))
        return seen.outcome(interrupted)
    interrupted = False
    pool = cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="target")
    shared = runcache.active()  # answers above the portals' zones are asked once per run, not per target
    shared.__enter__()
    try:
        futures = {pool.submit(check_one, n, settings, profile, probe_names): n for n in todo}
        for fut in cf.as_completed(futures):
            record(fut.result())
            del futures[fut]  # a finished result is not held here once it was handed on
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        shared.__exit__(None, None, None)
    return seen.outcome(interrupted)


class _Finished:
    """What a scan remembers of finished names: every result (keep) or only that the name is done."""

    def __init__(self, names: list[str], done: dict[str, TargetResult] | set[str] | None, keep: bool) -> None:
        self.names = names
        self.keep = keep
        self.results: dict[str, TargetResult] = dict(done) if keep and isinstance(done, dict) else {}
        self.done: set[str] = set(done or ())

    def __contains__(self, name: str) -> bool:
        return name in self.done

    def add(self, result: TargetResult) -> None:
        self.done.add(result.target.name)
        if self.keep:
            self.results[result.target.name] = result

    def outcome(self, interrupted: bool) -> ScanOutcome:
        kept = [self.results[n] for n in self.names if n in self.results] if self.keep else []
        return ScanOutcome(kept, interrupted, sum(1 for n in set(self.names) if n in self.done))


def _scan_processes(
    todo: list[str],
    settings: ProbeSettings,
    profile: Profile,
    concurrency: int,
    probe_names: tuple[str, ...],
    on_result: Callable[[TargetResult], None],
    seen: _Finished,
    processes: int,
) -> bool:
    """`processes` checking processes: this one and processes-1 spawned workers, all taking names from one
    queue (a slow name never holds up a fixed share of the batch). This process checks too: journaling
    costs it little, and a whole interpreter less (with scapy, OpenSSL and the caches) is about 100 MB.
    Workers send each TargetResult back. Returns whether the run was interrupted."""
    import multiprocessing as mp
    import queue
    import threading

    ctx = mp.get_context("spawn")  # never fork a process that has threads running
    _limit_malloc_arenas()  # this process checks names too
    tasks, answers = ctx.Queue(), ctx.Queue()
    for name in todo:
        tasks.put(name)
    per_worker = max(1, -(-concurrency // processes))
    workers = [ctx.Process(target=_worker_main, args=(tasks, answers, settings, profile, per_worker, probe_names),
                           name=f"netready-scan-{i}", daemon=True) for i in range(processes - 1)]
    for _ in range(processes):  # one end-of-work mark per taker, this process's included
        tasks.put(None)
    for w in workers:
        w.start()
    local: queue.Queue = queue.Queue()  # results checked in this process: no pickling round trip
    stop = threading.Event()
    here = threading.Thread(target=_take_names, args=(tasks, local.put, settings, profile, per_worker, probe_names,
                                                      stop), name="netready-scan-main", daemon=True)
    here.start()
    interned: dict[tuple, list] = {}
    finished = 0
    interrupted = False
    try:
        while finished < processes:
            try:
                msg = local.get_nowait()
            except queue.Empty:
                try:
                    msg = answers.get(timeout=0.05)
                except queue.Empty:
                    if all(not w.is_alive() for w in workers) and not here.is_alive() and local.empty():
                        break  # a worker died without saying goodbye: its names are redone below
                    continue
            if msg is None:
                finished += 1
                continue
            on_result(_share_lists(msg, interned) if seen.keep else msg)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()  # this process's threads take no new name; those in flight end within their budget
        for w in workers:
            if interrupted:
                w.terminate()
            w.join(timeout=5)
        tasks.cancel_join_thread()
        answers.cancel_join_thread()
    if not interrupted:  # names a crashed worker took with it: checked here, so no target is ever lost
        missing = [n for n in todo if n not in seen]
        if missing:
            outcome = scan_results(missing, settings, profile, concurrency, probe_names, on_result, keep="none")
            interrupted = outcome.interrupted
    return interrupted


def _take_names(tasks, put: Callable[[Any], None], settings: ProbeSettings, profile: Profile, concurrency: int,
                probe_names: tuple[str, ...], stop: Any = None) -> None:
    """Check names from `tasks` with `concurrency` threads, each result to `put`, then put None."""
    import threading

    slots = threading.BoundedSemaphore(concurrency)

    def one(name: str) -> None:
        try:
            result = check_one(name, settings, profile, probe_names)
        except Exception as exc:  # a bug on one name must not lose the name: report it on that target
            target = Target(name=name, ascii_name=name, error=f"internal error: {type(exc).__name__}: {exc}")
            result = TargetResult(target, [], judge_target(target, [], profile))
        finally:
            slots.release()
        put(result)

    with runcache.active(), cf.ThreadPoolExecutor(concurrency, thread_name_prefix="target") as pool:
        while not (stop is not None and stop.is_set()):
            slots.acquire()  # take a name only when a thread is free: the other processes get the rest
            name = tasks.get()
            if name is None:
                slots.release()
                break
            pool.submit(one, name)
    put(None)


def _worker_main(tasks, answers, settings: ProbeSettings, profile: Profile, concurrency: int,
                 probe_names: tuple[str, ...]) -> None:
    """One worker process: its own threads and run cache; Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers keep every core busy; a little politeness lets anything latency-bound on the same machine
    # (the main process journaling, a local resolver, the lab's servers in tests) answer in time, so
    # that its slowness never turns into a probe timeout and a wrong "error" verdict.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    _limit_malloc_arenas()
    _take_names(tasks, answers.put, settings, profile, concurrency, probe_names)


WORKER_MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


def _limit_malloc_arenas() -> None:
    """glibc gives each busy thread its own malloc arena (up to 8 per core), and hundreds of probe threads
    leave each arena holding freed but unreturned memory: a couple of shared arenas keep the worker's RSS
    flat at no measurable CPU cost (the GIL serialises most allocations anyway). No-op outside glibc."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, WORKER_MALLOC_ARENAS)


def _share_lists(result: TargetResult, interned: dict[tuple, list]) -> TargetResult:
    """Make equal long lists of strings one object (a shared certificate's SAN list arrives once per
    target from the workers; a national batch would otherwise hold thousands of copies)."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, (dict, list)):
                    value[k] = walk(v)
            return value
        if isinstance(value, list):
            if len(value) >= 16 and all(type(v) is str for v in value):
                return interned.setdefault(tuple(value), value)
            for i, v in enumerate(value):
                if isinstance(v, (dict, list)):
                    value[i] = walk(v)
        return value

    for obs in result.observations:
        if obs.probe == "tls":
            walk(obs.data)
    return result


def scan(
    names: list[str],
    settings: ProbeSettings,
    profile: Profile,
    concurrency: int = 8,
    probe_names: Iterable[str] = DEFAULT_PROBES,
    on_result: Callable[[TargetResult], None] | None = None,
) -> Report:
    """Check every name; results come back in input order whatever order they finish in."""
    started = utc_now()
    outcome = scan_results(names, settings, profile, concurrency, probe_names, on_result)
    return build_report(outcome.results, settings, profile, started)


def build_report(results: list[TargetResult], settings: ProbeSettings, profile: Profile, started: str,
                 rejudge: bool = False) -> Report:
    """The report of these results; rejudge=True judges every target again under `profile`
    (results read back from a journal may have been judged under another profile)."""
    targets = [r.target for r in results]
    if rejudge:
        findings = [f for r in results for f in judge_target(r.target, r.observations, profile)]
    else:
        findings = [f for r in results for f in r.findings]
    return Report(
        tool_version=__version__,
        started=started,
        finished=utc_now(),
        profile=profile.name,
        settings={**settings.to_dict(), "profile": profile.to_dict()},
        targets=targets,
        observations=[o for r in results for o in r.observations],
        findings=findings,
        summary=summarize(targets, findings),
    )
