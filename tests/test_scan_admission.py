"""A checking process takes a new target only when its CPU can serve it (netready.scan.Admission): on a
saturated process more targets in flight only hold memory and stretch every probe's timings."""

from __future__ import annotations

import threading
import time

from netready.scan import ADMIT_WINDOW, Admission


class FakeCpu:
    """cpu_sample() of a process using `rate` of a core on a machine left `idle` of its CPU."""

    def __init__(self, rate: float, idle: float = 0.5) -> None:
        self.rate, self.idle = rate, idle
        self.t0 = time.monotonic()

    def __call__(self) -> tuple[float, float, float, float]:
        now = time.monotonic()
        elapsed = now - self.t0
        return now, self.rate * elapsed, self.idle * elapsed * 100, elapsed * 100


def _admit_in(admission: Admission, in_flight: list[int]) -> float:
    t = time.monotonic()
    admission.wait(lambda: in_flight[0])
    return time.monotonic() - t


def test_below_the_floor_a_target_is_taken_at_once_even_on_a_saturated_process() -> None:
    admission = Admission(8, FakeCpu(rate=1.0), pause=0.05)
    assert _admit_in(admission, [7]) < 0.04
    assert admission.held == 0


def test_an_idle_process_takes_targets_beyond_the_floor() -> None:
    admission = Admission(8, FakeCpu(rate=0.1), pause=0.02)
    for _ in range(3):  # the GIL lag starts at its threshold: the first short sleeps measure it
        admission.wait(lambda: 30)
    assert _admit_in(admission, [30]) < 0.5
    assert admission.lag < 0.005


def test_a_process_using_a_whole_core_holds_the_next_target_until_one_in_flight_ends() -> None:
    in_flight = [8]
    admission = Admission(8, FakeCpu(rate=1.0), pause=0.02)
    time.sleep(ADMIT_WINDOW)  # one window measured: saturated
    threading.Timer(1.0, lambda: in_flight.__setitem__(0, 7)).start()
    waited = _admit_in(admission, in_flight)
    assert 0.9 <= waited < 2.0, waited
    assert admission.held == 1


def test_a_machine_without_idle_cpu_holds_the_next_target_too() -> None:
    in_flight = [12]
    admission = Admission(8, FakeCpu(rate=0.5, idle=0.02), pause=0.02)
    time.sleep(ADMIT_WINDOW)
    threading.Timer(0.8, lambda: in_flight.__setitem__(0, 7)).start()
    assert _admit_in(admission, in_flight) >= 0.7
    assert admission.held == 1


def test_sleeps_that_end_late_hold_the_next_target() -> None:
    """Threads queueing for the GIL and the cores show as this thread's short sleeps ending late, even when
    the process's CPU clock stays under a core (hundreds of probe threads on a busy machine)."""
    in_flight = [9]

    def late_sleep(seconds: float) -> None:
        time.sleep(seconds + 0.02)  # woken 20 ms late each time

    admission = Admission(8, FakeCpu(rate=0.5), pause=0.02, sleep=late_sleep)
    threading.Timer(1.0, lambda: in_flight.__setitem__(0, 7)).start()
    waited = _admit_in(admission, in_flight)
    assert waited >= 0.9 and admission.held == 1, (waited, admission.lag)
    assert admission.lag > 0.015


def test_sleeps_on_time_let_targets_in_again() -> None:
    admission = Admission(8, FakeCpu(rate=0.5), pause=0.02)
    admission.lag = 0.05  # it was busy a moment ago
    waited = _admit_in(admission, [20])
    assert waited < 1.0 and admission.lag < 0.005, (waited, admission.lag)
