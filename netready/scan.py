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

from netready import __version__, probes
from netready.judge import judge_target, summarize
from netready.model import Observation, ProbeSettings, Report, Target, TargetResult, utc_now
from netready.probes import runcache
from netready.profiles import Profile

DEFAULT_PROBES = tuple(probes.PROBE_MODULES)


def make_target(name: str, settings: ProbeSettings) -> tuple[Target, list[Observation]]:
    """Normalise the name (IDN -> punycode) and resolve its A/AAAA."""
    # here, not above: building a report (`netready tls NAME --address A`) needs no DNS (dnspython ~20 ms)
    from netready.probes.dns import NameError_, resolve_addresses, to_ascii

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
    encode: Any = None,
) -> ScanOutcome:
    """Check every name not already in `done`; on Ctrl-C, return what finished so far.

    processes > 1 spreads the names over that many worker processes (each with concurrency/processes
    threads); results come back to this process, in input order, exactly as with one process.
    keep="all": every result stays in memory and is returned. keep="none": a result is handed to on_result
    (e.g. journaled) and dropped, so memory does not grow with the number of names (a national batch);
    only the names that finished are remembered.
    encode: turns each result into what on_result gets, in the process that checked it (so the work is
    spread over every core, and a worker sends the encoded form instead of pickled objects); an object with
    for_slot(slot, slots) -> callable(TargetResult) -> something with .target (netready.journal.LineEncoder).
    Only with keep="none".
    """
    if keep not in ("all", "none"):
        raise ValueError(f"keep must be 'all' or 'none', not {keep!r}")
    if encode is not None and keep != "none":
        raise ValueError("encode needs keep='none': encoded results are not results")
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
                                      min(processes, len(todo)), encode)
        return seen.outcome(interrupted)
    encoder = _slot_encoder(encode, 0, 1)
    interrupted = False
    pool = cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="target")
    shared = runcache.active()  # answers above the portals' zones are asked once per run, not per target
    shared.__enter__()
    batch = len(todo) >= MIN_NAMES_PER_PROCESS  # a batch's process: tuned and trimmed like a checking process
    if batch:
        tune_malloc()
    trimming = _trimming() if batch else contextlib.nullcontext()
    trimming.__enter__()
    try:
        futures = {pool.submit(_check, n, settings, profile, probe_names, encoder): n for n in todo}
        for fut in cf.as_completed(futures):
            record(fut.result())
            del futures[fut]  # a finished result is not held here once it was handed on
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        trimming.__exit__(None, None, None)
        shared.__exit__(None, None, None)
    return seen.outcome(interrupted)


def _slot_encoder(encode: Any, slot: int, slots: int) -> Callable[[TargetResult], Any] | None:
    return encode.for_slot(slot, slots) if encode is not None else None


def _check(name: str, settings: ProbeSettings, profile: Profile, probe_names: tuple[str, ...],
           encoder: Callable[[TargetResult], Any] | None) -> Any:
    """check_one, then the result encoded where it was checked (when the caller wants it encoded)."""
    result = check_one(name, settings, profile, probe_names)
    return encoder(result) if encoder is not None else result


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
    encode: Any = None,
) -> bool:
    """`processes` checking processes: this one and processes-1 workers, all taking names from one list
    as they have room (a slow name never holds up a fixed share of the batch). This process checks too:
    journaling costs it little, and a whole interpreter less (with OpenSSL and the caches) is memory saved.
    Workers are plain child interpreters talking over two pipes (multiprocessing.connection framing), not
    multiprocessing processes: no queue semaphores, so no resource-tracker process either (13 MB).
    Returns whether the run was interrupted."""
    import collections
    import queue
    import threading
    from multiprocessing.connection import wait

    tune_malloc()  # this process checks names too
    names = collections.deque(todo)
    per_worker = max(1, -(-concurrency // processes))
    workers = [_Worker.start(settings, profile, per_worker, probe_names, _slot_encoder(encode, k, processes))
               for k in range(1, processes)]
    here_encoder = _slot_encoder(encode, 0, processes)
    local: queue.Queue = queue.Queue()  # results checked in this process: no pickling round trip
    stop = threading.Event()

    def next_name() -> str | None:
        try:
            return None if stop.is_set() else names.popleft()
        except IndexError:
            return None

    here = threading.Thread(target=_take_names, args=(next_name, local.put, settings, profile, per_worker,
                                                      probe_names, here_encoder), name="netready-scan-main",
                            daemon=True)
    here.start()
    busy = {w.inbox: w for w in workers}
    here_done = False
    interrupted = False
    try:
        while busy or not here_done:
            got = False
            while True:  # results checked here
                try:
                    msg = local.get_nowait()
                except queue.Empty:
                    break
                got = True
                if msg is None:
                    here_done = True
                else:
                    on_result(msg)
            if not busy:
                if not here_done and not got:
                    try:
                        msg = local.get(timeout=0.05)
                    except queue.Empty:
                        here_done = not here.is_alive() and local.empty()  # it never says goodbye: gone
                        continue
                    if msg is None:
                        here_done = True
                    else:
                        on_result(msg)
                continue
            for conn in wait(list(busy), timeout=0.0 if got else 0.05):
                worker = busy[conn]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):  # a worker died: its names in flight are redone below
                    del busy[conn]
                    worker.close()
                    continue
                if kind == "want":
                    worker.send(next_name())
                elif kind == "result":
                    on_result(payload)
                else:  # "done": it had None and finished what it held
                    del busy[conn]
                    worker.close()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()  # no new name for anyone; what is in flight ends within its budget
        for w in workers:
            w.close(kill=interrupted)
    if not interrupted:  # names a crashed worker took with it: checked here, so no target is ever lost
        missing = [n for n in todo if n not in seen]
        if missing:
            outcome = scan_results(missing, settings, profile, concurrency, probe_names, on_result, keep="none",
                                   encode=_Reuse(here_encoder) if here_encoder is not None else None)
            interrupted = outcome.interrupted
    return interrupted


class _Reuse:
    """An encoder already made for this process, handed out again (its numbering goes on)."""

    def __init__(self, encoder: Callable[[TargetResult], Any]) -> None:
        self.encoder = encoder

    def for_slot(self, slot: int, slots: int) -> Callable[[TargetResult], Any]:
        return self.encoder


class _Worker:
    """A worker interpreter: `python -c` importing this module, names in over one pipe, results out over
    another (pickled, length-prefixed: multiprocessing.connection.Connection on plain descriptors)."""

    def __init__(self, proc: Any, outbox: Any, inbox: Any) -> None:
        self.proc, self.outbox, self.inbox = proc, outbox, inbox

    @classmethod
    def start(cls, settings: ProbeSettings, profile: Profile, concurrency: int,
              probe_names: tuple[str, ...], encoder: Any = None) -> _Worker:
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        code = (f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}; "
                f"from netready.scan import _worker_main; _worker_main({to_child_r}, {to_parent_w})")
        try:
            proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, to_parent_w),
                                    stdin=subprocess.DEVNULL)
        finally:
            os.close(to_child_r)
            os.close(to_parent_w)
        outbox = Connection(to_child_w, readable=False)
        inbox = Connection(to_parent_r, writable=False)
        outbox.send((settings, profile, concurrency, probe_names, encoder))
        return cls(proc, outbox, inbox)

    def send(self, name: str | None) -> None:
        with contextlib.suppress(OSError):
            self.outbox.send(name)

    def close(self, kill: bool = False) -> None:
        if kill and self.proc.poll() is None:
            self.proc.terminate()
        for conn in (self.outbox, self.inbox):
            with contextlib.suppress(OSError):
                conn.close()
        try:
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - a worker that does not end is stopped by its pid
            self.proc.kill()
            self.proc.wait()


def _take_names(next_name: Callable[[], str | None], put: Callable[[Any], None], settings: ProbeSettings,
                profile: Profile, concurrency: int, probe_names: tuple[str, ...],
                encoder: Callable[[TargetResult], Any] | None = None) -> None:
    """Check names from next_name() (None: no more) with `concurrency` threads, each result (encoded, when
    an encoder is given) to `put`, then put None."""
    import threading

    slots = threading.BoundedSemaphore(concurrency)
    admission = Admission(min(ADMIT_FLOOR, concurrency))
    in_flight = [0]
    count_lock = threading.Lock()

    def one(name: str) -> None:
        try:
            result = check_one(name, settings, profile, probe_names)
        except Exception as exc:  # a bug on one name must not lose the name: report it on that target
            target = Target(name=name, ascii_name=name, error=f"internal error: {type(exc).__name__}: {exc}")
            result = TargetResult(target, [], judge_target(target, [], profile))
        try:
            put(encoder(result) if encoder is not None else result)
        finally:
            with count_lock:
                in_flight[0] -= 1
            slots.release()

    with runcache.active(), _trimming(), cf.ThreadPoolExecutor(concurrency, thread_name_prefix="target") as pool:
        while True:
            slots.acquire()  # take a name only when a thread is free: the other processes get the rest
            admission.wait(lambda: in_flight[0])
            name = next_name()
            if name is None:
                slots.release()
                break
            with count_lock:
                in_flight[0] += 1
            pool.submit(one, name)
    put(None)


ADMIT_FLOOR = 8  # targets a checking process always takes, however busy the CPU
ADMIT_BUSY = 0.9  # share of one core (the GIL's limit) at which a process counts as saturated
ADMIT_IDLE = 0.1  # share of the machine's CPU time left idle at or under which the machine counts as saturated
ADMIT_WINDOW = 0.5  # seconds of CPU time looked at
ADMIT_LAG = 0.005  # the admitting thread's 0.1 s sleeps end this much late (smoothed): threads queue for GIL and cores


def cpu_sample() -> tuple[float, float, float, float]:
    """(monotonic clock, this process's CPU seconds, the machine's idle and total CPU ticks): /proc/stat, or
    zeros for the machine where there is none."""
    idle = total = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [float(x) for x in fh.readline().split()[1:]]
        idle, total = fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user..steal
    return time.monotonic(), time.process_time(), idle, total


class Admission:
    """Holds a new target back while this process already has `floor` in flight and the CPU is saturated:
    this process uses a whole core (the GIL's limit), or the machine has no idle CPU left.

    A target taken then only waits for the CPU: it adds nothing to the pace, but it holds its memory (DNS
    answers, certificates, threads) for longer, and it stretches every target's probes, so that answers are
    read later, closer to the timeout. On the lab (answers in microseconds, two processes on two cores),
    32 targets in flight per process gave 399 names/min and 213 MB; 12 gave 482 names/min and 187 MB. When
    targets wait on the network instead (real round trips, dead servers), the CPU idles and every free
    thread takes a name, up to --concurrency (one more per sleep of `pause`: at most 10 a second). The
    smoothed lateness starts at its threshold, so a batch starts with `floor` targets, not with a burst.
    The lateness of this thread's own short sleeps is the third sign: with hundreds of probe threads a
    process can queue for the GIL and the cores while its CPU clock stays under a core (on the lab: 0.7 core
    per process, sleeps 5-30 ms late). sample: cpu_sample(); sleep: time.sleep (both replaced in tests)."""

    def __init__(self, floor: int, sample: Callable[[], tuple[float, float, float, float]] = cpu_sample,
                 pause: float = 0.1, sleep: Callable[[float], None] = time.sleep) -> None:
        self.floor, self.pause, self._sample, self._sleep_for = floor, pause, sample, sleep
        self._mark = sample()
        self._cpu_busy = False
        self.lag = ADMIT_LAG  # smoothed lateness of this thread's own short sleeps: the wait for the GIL
        self.held = 0  # targets held back at least once (read by the tests)

    def _measure_cpu(self) -> bool:
        now, cpu, idle, total = self._sample()
        t0, c0, i0, n0 = self._mark
        if now - t0 >= ADMIT_WINDOW:
            process_busy = (cpu - c0) / (now - t0) >= ADMIT_BUSY
            machine_busy = total > n0 and (idle - i0) / (total - n0) <= ADMIT_IDLE
            self._cpu_busy = process_busy or machine_busy
            self._mark = (now, cpu, idle, total)
        return self._cpu_busy

    def _sleep(self) -> None:
        t = time.monotonic()
        self._sleep_for(self.pause)
        late = max(0.0, time.monotonic() - t - self.pause)
        self.lag += 0.25 * (late - self.lag)

    def saturated(self) -> bool:
        return self._measure_cpu() or self.lag >= ADMIT_LAG

    def wait(self, in_flight: Callable[[], int]) -> None:
        """Return when a new target may start: fewer than `floor` in flight, or neither the GIL nor the CPU
        saturated (measured on a short sleep of this thread first)."""
        held = False
        while in_flight() >= self.floor:
            self._sleep()
            if not self.saturated():
                break
            held = True
        self.held += held


def _worker_main(inbox_fd: int, outbox_fd: int) -> None:
    """One worker process: its own threads and run cache; Ctrl-C is the parent's to handle."""
    import signal
    import threading
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers keep every core busy; a little politeness lets anything latency-bound on the same machine
    # (the main process journaling, a local resolver, the lab's servers in tests) answer in time, so
    # that its slowness never turns into a probe timeout and a wrong "error" verdict.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    tune_malloc()
    inbox = Connection(inbox_fd, writable=False)
    outbox = Connection(outbox_fd, readable=False)
    settings, profile, concurrency, probe_names, encoder = inbox.recv()
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            outbox.send(message)

    def next_name() -> str | None:
        try:
            send(("want", None))
            return inbox.recv()
        except (EOFError, OSError):  # the parent is gone or stopped us: no more names
            return None

    def put(result: TargetResult | None) -> None:
        with contextlib.suppress(OSError):
            send(("done", None) if result is None else ("result", result))

    _take_names(next_name, put, settings, profile, concurrency, probe_names, encoder)


WORKER_MALLOC_ARENAS = 2
MMAP_THRESHOLD = 64 * 1024  # bytes: a 64 KiB receive buffer (65,535 bytes + object header) is mapped
_M_ARENA_MAX = -8  # mallopt parameter numbers (glibc malloc.h)
_M_MMAP_THRESHOLD = -3
TRIM_INTERVAL = 1.0  # seconds between two malloc_trim calls while a batch runs


def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def tune_malloc() -> None:
    """glibc malloc for a checking process (no-op outside glibc):
    - at most WORKER_MALLOC_ARENAS arenas: glibc gives each busy thread its own (up to 8 per core), and
      hundreds of probe threads leave each arena holding freed but unreturned memory; the GIL serialises most
      allocations anyway, so sharing costs no measurable CPU;
    - blocks of MMAP_THRESHOLD bytes or more are mapped on their own, not carved from the heap: every thread
      waiting on a DNS answer holds a 64 KiB receive buffer (a datagram may be that large) that shrinks to
      the answer's few hundred bytes once it comes, and the answers stay (cached, parsed) while the heap
      around them is freed. Carved from the heap, dozens of such buffers at once left the heap 2-3 times the
      size of what it held after a few hundred names, and growing (glibc heap 29 -> 59 MB with ~21 MB in
      use over 800 names; with this, 21 -> 24 MB). Setting it also stops glibc from raising the threshold
      by itself after each large free (its default), which sends later large blocks to the heap too."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = _libc()
        libc.mallopt(_M_ARENA_MAX, WORKER_MALLOC_ARENAS)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


@contextlib.contextmanager
def _trimming():  # type: ignore[no-untyped-def]
    """While a batch runs, hand freed heap memory back to the system once a second (glibc malloc_trim):
    OpenSSL, lxml and dnspython free a lot between targets, and glibc keeps it otherwise (measured: peak RSS
    of a checking process 96 instead of 109 MB, for ~9 ms of CPU a second on a loaded machine). No-op
    outside glibc."""
    import threading

    try:
        trim = _libc().malloc_trim
    except (OSError, AttributeError):
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(TRIM_INTERVAL):
            trim(0)

    thread = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


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
