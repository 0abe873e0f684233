"""Concurrent scanning: names -> targets -> probes (in parallel) -> observations -> report.

Targets run under a bounded concurrency; the probes of one target run side by side under the
target's time budget. A probe that crashes or overruns becomes an observation with an error,
so a broken target never stops the run and never loses the other targets.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import probes
from netready import __version__
from netready.judge import judge_target, summarize
from netready.model import Finding, Observation, ProbeSettings, Report, Target, utc_now
from netready.profiles import Profile
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
    runnable = {name: probes.load(name) for name in probe_names}
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
    target, observations = make_target(name, settings)
    if observations:  # the name was valid; even without addresses DNSSEC can still prove the denial
        observations.extend(probe_target(target, settings, probe_names))
    return TargetResult(target, observations, judge_target(target, observations, profile))


@dataclass
class ScanOutcome:
    """Results in input order, and whether the run was cut short (Ctrl-C)."""

    results: list[TargetResult]
    interrupted: bool = False


def scan_results(
    names: list[str],
    settings: ProbeSettings,
    profile: Profile,
    concurrency: int = 8,
    probe_names: Iterable[str] = DEFAULT_PROBES,
    on_result: Callable[[TargetResult], None] | None = None,
    done: dict[str, TargetResult] | None = None,
) -> ScanOutcome:
    """Check every name not already in `done`; on Ctrl-C, return what finished so far."""
    probe_names = tuple(probe_names)
    results: dict[str, TargetResult] = dict(done or {})
    todo = [n for n in names if n not in results]
    interrupted = False
    pool = cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="target")
    try:
        futures = {pool.submit(check_one, n, settings, profile, probe_names): n for n in todo}
        for fut in cf.as_completed(futures):
            result = fut.result()
            results[futures[fut]] = result
            if on_result:
                on_result(result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    return ScanOutcome([results[n] for n in names if n in results], interrupted)


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
