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
    probe_names = tuple(probe_names)
    results: dict[int, TargetResult] = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="target") as pool:
        futures = {pool.submit(check_one, n, settings, profile, probe_names): i for i, n in enumerate(names)}
        for fut in cf.as_completed(futures):
            result = fut.result()
            results[futures[fut]] = result
            if on_result:
                on_result(result)
    ordered = [results[i] for i in range(len(names))]
    return build_report(ordered, settings, profile, started)


def build_report(results: list[TargetResult], settings: ProbeSettings, profile: Profile, started: str) -> Report:
    targets = [r.target for r in results]
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
