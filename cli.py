"""netready command line (typer). Thin: it parses options and calls into netready/."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from netready.app import progress as _progress  # the progress bar of long runs: one home

app = typer.Typer(
    name="netready",
    help="Check, report and fix Circular 32/2017 network rules: HTTPS/TLS 1.2, IPv6, DNSSEC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lab_app = typer.Typer(help="The built-in offline lab: real BIND, Knot and nginx in network namespaces.",
                      no_args_is_help=True)
app.add_typer(lab_app, name="lab")
contract_app = typer.Typer(help="Hosting/DNS-hosting contract clauses, and verification of a contract with evidence.",
                           no_args_is_help=True)
app.add_typer(contract_app, name="contract")


def _print_version(value: bool) -> None:
    if value:
        from netready import version_line

        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print netready's version and exit.")] = False) -> None:
    pass

EXIT_USAGE = 3

class Fmt(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"
    junit = "junit"


class Lang(StrEnum):
    vi = "vi"
    en = "en"


ResolverOpt = Annotated[list[str] | None, typer.Option("--resolver", help="Recursive resolver to fetch through "
                                                       "(repeatable); validation still happens in netready.")]
RootHintsOpt = Annotated[str | None, typer.Option("--root-hints", help="Root hints file (iterative mode).")]
AnchorOpt = Annotated[str | None, typer.Option("--trust-anchor", help="Root DS/DNSKEY in zone-file form.")]
CaOpt = Annotated[str | None, typer.Option("--ca-file", help="Extra CA bundle (PEM) to trust.")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Use the running lab's root hints, trust anchor and CA.")]
FmtOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
LangOpt = Annotated[Lang, typer.Option("--lang", help="Language of messages (vi or en).")]
NoBrowserOpt = Annotated[bool, typer.Option("--no-browser", help="IPv6-only check (VN-IPV6-ONLY): parse the HTML "
                                            "instead of loading the pages in headless Chromium (faster; requests "
                                            "made by scripts are not seen).")]
BrowserOpt = Annotated[bool | None, typer.Option(
    "--browser/--no-browser", help="IPv6-only check (VN-IPV6-ONLY): load the pages in headless Chromium, or parse "
    "their HTML (faster; requests made by scripts are not seen). Default: the browser for up to 100 names, the "
    "HTML above (a national sweep); the report says which.")]
FollowOpt = Annotated[list[str] | None, typer.Option("--follow", help="IPv6-only check: also load this page of "
                                                     "the portal (path or URL, e.g. /dang-nhap; repeatable).")]
HistoryOpt = Annotated[list[str] | None, typer.Option("--history", help="IPv6-only check: earlier JSON reports "
                                                      "(files or a directory) that say since when a host fails "
                                                      "(repeatable).")]


def _fail_usage(message: str) -> None:
    typer.echo(f"netready: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def check(
    names: Annotated[list[str] | None, typer.Argument(help="Portal names (IDN accepted).")] = None,
    input_file: Annotated[str | None, typer.Option("--input", "-i", help="File of names (list or CSV).")] = None,
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the report to this file, "
                                                "journaling each finished target to FILE.jsonl.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip targets already in FILE.jsonl.")] = False,
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    trust_anchor: AnchorOpt = None,
    ca_file: CaOpt = None,
    lab: LabOpt = False,
    concurrency: Annotated[int, typer.Option(min=1, max=512, help="Targets checked at once.")] = 16,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation.")] = 2.0,
    budget: Annotated[float, typer.Option(help="Seconds per target, all probes included.")] = 30.0,
    browser: BrowserOpt = None,
    follow: FollowOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Check portals against the Circular 32 rules and print the verdicts. Exit 0 all compliant,
    1 some not compliant, 2 a required check could not run, 3 usage error."""
    from netready.app import check_main
    from netready.errors import UsageError
    from netready.profiles import ProfileError

    options = dict(input_file=input_file, profile=profile, fmt=fmt.value, lang=lang.value, output=output,
                   resume=resume, resolver=resolver, root_hints=root_hints, trust_anchor=trust_anchor,
                   ca_file=ca_file, lab=lab, concurrency=concurrency, timeout=timeout, budget=budget,
                   browser=browser, follow=follow, history=history)
    try:
        code = check_main(names, options)
    except (UsageError, ProfileError) as exc:
        _fail_usage(str(exc))
    raise typer.Exit(code)


@app.command()
def rejudge(
    report_file: Annotated[str, typer.Argument(help="A JSON report written by netready check -f json.")],
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Judge saved observations again under a profile, without touching the network."""
    from netready.judge import exit_code
    from netready.judge import rejudge as do_rejudge
    from netready.model import Report
    from netready.profiles import ProfileError, load_profile
    from netready.render import render, use_colour

    try:
        report = Report.load(report_file)
        prof = load_profile(profile)
    except (OSError, ValueError, KeyError, ProfileError) as exc:
        _fail_usage(f"{report_file}: {exc}")
    new = do_rejudge(report, prof)
    _emit(render(new, fmt.value, lang.value, colour=use_colour() and not output), output)
    raise typer.Exit(exit_code(new.summary))


@app.command()
def merge(
    reports: Annotated[
        list[str],
        typer.Argument(
            help="JSON reports of netready check -f json, one per vantage point (a merged report brings its own)."
        ),
    ],
    vantage: Annotated[
        list[str] | None,
        typer.Option(
            "--vantage", help="Vantage point name, once per report in order (default: the file name without .json)."
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="circular32, strict, lab, or a YAML file (default: the reports' own profile).")
    ] = None,
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Merge reports from several vantage points into one, judged again without touching the network: the worst
    verdict over the vantage points. Exit codes as check."""
    from netready.errors import UsageError
    from netready.judge import exit_code
    from netready.merge import merge_files, merge_note
    from netready.render import render, use_colour

    try:
        merged = merge_files(reports, vantage, profile)
    except UsageError as exc:
        _fail_usage(str(exc))
    _emit(render(merged, fmt.value, lang.value, colour=use_colour() and not output), output)
    if output:
        typer.echo(merge_note(merged, output, lang.value), err=True)
    raise typer.Exit(exit_code(merged.summary))


@app.command()
def demo(
    lang: LangOpt = Lang.en,
    out_dir: Annotated[str, typer.Option(help="Where the JSON and HTML reports are written.")] = "out",
) -> None:
    """Bring the lab up, check every lab portal, print the report (what `make demo` runs)."""
    from netready import lab as lab_mod
    from netready.app import build_settings
    from netready.profiles import load_profile
    from netready.render import render, use_colour
    from netready.scan import scan

    t0 = time.perf_counter()
    try:
        env = lab_mod.up()
    except lab_mod.LabError as exc:
        typer.echo(f"netready: lab cannot start: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"lab up in {time.perf_counter() - t0:.1f} s", err=True)
    env_dict = env.to_dict()
    names = [p["name"] for p in env_dict["portals"]]
    settings = build_settings(use_lab=True)
    t1 = time.perf_counter()
    with _progress(len(names)) as on_result:
        report = scan(names, settings, load_profile("lab"), concurrency=16, on_result=on_result)
    elapsed = time.perf_counter() - t1
    sys.stdout.write(render(report, "table", lang.value, colour=use_colour()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo-report.json").write_text(render(report, "json"), encoding="utf-8")
    (out / "demo-report.html").write_text(render(report, "html", lang.value), encoding="utf-8")
    typer.echo(f"checked {len(names)} lab portals in {elapsed:.2f} s; reports: {out}/demo-report.json, "
               f"{out}/demo-report.html; stop the lab with: netready lab down", err=True)


def _area_command(area: str, target: str, options: dict[str, Any]) -> None:
    """The area command after parsing (netready.app.area_main; netready/entry.py calls it too, without typer)."""
    from netready.app import area_main
    from netready.errors import UsageError
    from netready.profiles import ProfileError

    options = {k: v.value if isinstance(v, StrEnum) else v for k, v in options.items()}
    try:
        code = area_main(area, target, options)
    except (UsageError, ProfileError) as exc:
        _fail_usage(str(exc))
    raise typer.Exit(code)


@app.command()
def dnssec(
    name: Annotated[str, typer.Argument(help="Portal name (IDN accepted).")],
    trust_anchor: AnchorOpt = None,
    root_hints: RootHintsOpt = None,
    resolver: ResolverOpt = None,
    lab: LabOpt = False,
    svg: Annotated[str | None, typer.Option("--svg", help="Also write the chain picture (SVG) here.")] = None,
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per query.")] = 2.0,
) -> None:
    """The DNSSEC chain of trust from the root to the portal, link by link, and the DNSSEC rules."""
    if svg:
        _write_svg(name, svg, dict(resolvers=resolver, root_hints=root_hints, trust_anchor=trust_anchor,
                                   timeout=timeout, use_lab=lab))
    _area_command("dnssec", name, dict(trust_anchor=trust_anchor, root_hints=root_hints, resolver=resolver, lab=lab,
                                       profile=profile, fmt=fmt, lang=lang, output=output, timeout=timeout))


def _write_svg(name: str, path: str, settings_args: dict) -> None:  # type: ignore[type-arg]
    from netready.app import build_settings
    from netready.errors import UsageError
    from netready.probes.dnssec import run_name
    from netready.views.dnssec import chain_svg

    try:
        lab = settings_args.pop("use_lab")
        settings = build_settings(**settings_args, use_lab=lab)
        Path(path).write_text(chain_svg(run_name(name, settings)), encoding="utf-8")
    except (UsageError, RuntimeError, OSError) as exc:
        typer.echo(f"netready: cannot write the chain picture: {exc}", err=True)


@app.command()
def tls(
    host: Annotated[str, typer.Argument(help="HOST[:PORT] or an address literal ([v6]:port).")],
    address: Annotated[list[str] | None, typer.Option("--address", help="Probe this address (repeatable) "
                                                      "instead of resolving HOST.")] = None,
    ca_file: CaOpt = None,
    sni: Annotated[str | None, typer.Option("--sni", help="Server name to send (default: HOST).")] = None,
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    lab: LabOpt = False,
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per connection.")] = 2.0,
) -> None:
    """Protocol versions, cipher suites, key exchange, certificate chain, redirect and HSTS per address."""
    _area_command("tls", host, dict(address=address, ca_file=ca_file, sni=sni, resolver=resolver, root_hints=root_hints,
                                    lab=lab, profile=profile, fmt=fmt, lang=lang, output=output, timeout=timeout))


@app.command()
def ipv6(
    name: Annotated[str, typer.Argument(help="Portal name (IDN accepted).")],
    root_hints: RootHintsOpt = None,
    resolver: ResolverOpt = None,
    ca_file: CaOpt = None,
    lab: LabOpt = False,
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    fmt: FmtOpt = Fmt.table,
    lang: LangOpt = Lang.en,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation.")] = 2.0,
    no_browser: NoBrowserOpt = False,
    follow: FollowOpt = None,
    history: HistoryOpt = None,
) -> None:
    """The portal and its name servers over IPv6: AAAA sanity, reachability, parity with IPv4, and the whole
    portal on an IPv6-only network (pages in headless Chromium through an IPv6-only proxy)."""
    _area_command("ipv6", name, dict(root_hints=root_hints, resolver=resolver, ca_file=ca_file, lab=lab,
                                     profile=profile, fmt=fmt, lang=lang, output=output, timeout=timeout,
                                     no_browser=no_browser, follow=follow, history=history))


class DocFmt(StrEnum):
    md = "md"
    html = "html"
    docx = "docx"
    pdf = "pdf"


class EvidenceFmt(StrEnum):
    html = "html"
    json = "json"
    pdf = "pdf"


def _write_doc(render_text, write_file, doc, fmt: str, output: str | None) -> None:  # type: ignore[no-untyped-def]
    """md/html may go to stdout; docx/pdf are binary and need -o."""
    if fmt in ("docx", "pdf") and not output:
        _fail_usage(f"--format {fmt} needs --output FILE")
    if output:
        write_file(doc, fmt, output)
        typer.echo(f"written: {output}", err=True)
    else:
        sys.stdout.write(render_text(doc, fmt))


@app.command()
def plan(
    agency: Annotated[str, typer.Option("--agency", help="The agency's name, as it should appear in the plan.")],
    scenario: Annotated[str, typer.Option(help="Web hosting: outsourced (thuê dịch vụ) or idc (tự quản lý).")]
    = "outsourced",
    dns: Annotated[str, typer.Option(help="DNS: outsourced (DNS hosting provider) or own.")] = "outsourced",
    report: Annotated[str | None, typer.Option("--from", "--report", help="A netready JSON report: current state "
                                               "and the gap list come from it.")] = None,
    start: Annotated[str | None, typer.Option(help="Start date YYYY-MM-DD for the timeline.")] = None,
    lang: LangOpt = Lang.vi,
    fmt: Annotated[DocFmt, typer.Option("--format", "-f")] = DocFmt.md,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Draft the IPv6 / DNSSEC / HTTPS deployment plan the guidance asks for (Vietnamese by default)."""
    from datetime import date

    from netready.model import Report
    from netready.plan import PlanError, draft_plan, render_plan, write_plan

    try:
        rep = Report.load(report) if report else None
        start_date = date.fromisoformat(start) if start else None
        doc = draft_plan(agency, scenario, dns, rep, lang.value, start_date)
    except (PlanError, OSError, ValueError, KeyError) as exc:
        _fail_usage(str(exc))
    _write_doc(render_plan, write_plan, doc, fmt.value, output)


@contract_app.command("clauses")
def contract_clauses_cmd(
    scenario: Annotated[str, typer.Option(help="outsourced or idc.")] = "outsourced",
    service: Annotated[str, typer.Option(help="web, dns or both.")] = "both",
    lang: LangOpt = Lang.vi,
    fmt: Annotated[DocFmt, typer.Option("--format", "-f")] = DocFmt.md,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
) -> None:
    """The technical clauses to put in a hosting or DNS-hosting contract, with acceptance tests."""
    from netready.contract import ContractError, contract_clauses, render_clauses, write_clauses

    try:
        doc = contract_clauses(scenario, service, lang.value)
    except (ContractError, ValueError) as exc:
        _fail_usage(str(exc))
    _write_doc(render_clauses, write_clauses, doc, fmt.value, output)


@contract_app.command("verify")
def contract_verify(
    spec: Annotated[str, typer.Argument(help="SPEC.yml: contract, provider, services, clauses in force.")],
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    trust_anchor: AnchorOpt = None,
    ca_file: CaOpt = None,
    lab: LabOpt = False,
    profile: Annotated[str | None, typer.Option(help="Override the spec's profile.")] = None,
    lang: LangOpt = Lang.vi,
    fmt: Annotated[EvidenceFmt, typer.Option("--format", "-f")] = EvidenceFmt.html,
    output: Annotated[str | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Probe what the contract names and write an evidence report: clause -> rules -> verdicts, hashed.
    Exit 0 every clause met, 1 some not met, 2 some could not be verified, 3 usage error."""
    from tabulate import tabulate

    from netready.app import build_settings
    from netready.contract import (
        ContractError,
        clause_summary_rows,
        render_contract_report,
        verify_contract,
        write_contract_report,
    )
    from netready.contract_spec import SpecError
    from netready.errors import UsageError
    from netready.profiles import ProfileError

    try:
        settings = build_settings(resolver, root_hints, trust_anchor, ca_file, use_lab=lab)
        result = verify_contract(spec, settings, profile)
    except (UsageError, SpecError, ContractError, ProfileError) as exc:
        _fail_usage(str(exc))
    if fmt == EvidenceFmt.pdf and not output:
        _fail_usage("--format pdf needs --output FILE")
    if output:
        write_contract_report(result, fmt.value, output, lang.value)
        headers = ["clause", "status", "rules"] if lang == Lang.en else ["điều khoản", "trạng thái", "quy tắc"]
        typer.echo(tabulate(clause_summary_rows(result, lang.value), headers=headers), err=True)
        typer.echo(f"evidence SHA-256 {result.sha256}; written: {output}", err=True)
    else:
        sys.stdout.buffer.write(render_contract_report(result, fmt.value, lang.value))
    raise typer.Exit(result.exit_code())


class RemAction(StrEnum):
    dual_stack = "dual-stack"
    dnssec = "dnssec"
    tls = "tls"
    all = "all"


class RemFmt(StrEnum):
    table = "table"
    json = "json"


EVENT_COLOURS = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "red"}


@app.command()
def remediate(
    action: Annotated[RemAction, typer.Argument(help="dual-stack, dnssec, tls, or all (site.yml).")],
    inventory: Annotated[str, typer.Option("--inventory", "-i", help="Ansible inventory (hosts.yml).")],
    check: Annotated[bool, typer.Option("--check", help="Dry run (ansible --check --diff): show what would "
                                        "change, change nothing.")] = False,
    limit: Annotated[str | None, typer.Option("--limit", help="Only these hosts/groups (Ansible pattern).")] = None,
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    trust_anchor: AnchorOpt = None,
    ca_file: CaOpt = None,
    lab: Annotated[bool, typer.Option("--lab", help="The lab's machines: probe with the running lab's hints, anchor "
                                      "and CA, and hand the exported DS to the lab's gov.vn.")] = False,
    profile: Annotated[str | None, typer.Option(help="circular32, strict, lab, or a YAML file "
                                                "(default: lab with --lab, else circular32).")] = None,
    fmt: Annotated[RemFmt, typer.Option("--format", "-f", help="Output format.")] = RemFmt.table,
    lang: LangOpt = Lang.en,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation of the probes.")] = 2.0,
    run_timeout: Annotated[int, typer.Option(
        min=1, help="Seconds the playbook may run; then it stops at the next play boundary (no play is left half "
        "done), like a first Ctrl-C. A second Ctrl-C kills it at once.")] = 3600,
    vault_password_file: Annotated[str | None, typer.Option(
        help="Ansible Vault password file, for keys and secrets kept encrypted in the inventory.")] = None,
) -> None:
    """Fix servers with the playbooks, then probe their portals again: progress per host and task, changed/failed
    per host, rollbacks, verdicts before and after. Exit 0 fixed, 1 a host failed (or a change was rolled back, or
    the run was stopped), 2 a required rule still fails (with --check: a real run is needed), 3 usage error."""
    from netready import remediate as R
    from netready.app import build_settings
    from netready.errors import UsageError
    from netready.lab.errors import LabError
    from netready.profiles import ProfileError

    t0 = time.perf_counter()
    try:
        settings = build_settings(resolver, root_hints, trust_anchor, ca_file, timeout, use_lab=lab)
        plan = R.plan_command(action.value, inventory, limit, lab, profile)  # type: ignore[arg-type]
    except (UsageError, ProfileError, R.RemediationError) as exc:
        _fail_usage(str(exc))
    except LabError as exc:
        _fail_usage(f"{exc} (start it with: netready lab up --machines)")
    colour = _use_colour_err()

    def on_event(e: R.TaskEvent) -> None:
        if e.status == "skipped":
            return
        status = typer.style(f"{e.status:<11}", fg=EVENT_COLOURS.get(e.status)) if colour else f"{e.status:<11}"
        role = f"{e.role} : " if e.role else ""
        tail = f" — {e.message}" if e.message else ""
        typer.echo(f"  {e.host:<12} {status} {role}{e.task}{tail}", err=True)

    def on_stop(stop: R.Stop) -> None:
        if stop.killed:
            typer.echo("netready: killing the playbook now (its current play may be left unfinished)", err=True)
        else:
            typer.echo(f"netready: {stop.reason}: the playbook stops after its current play, so no change is left "
                       "half done (Ctrl-C again to kill it now)", err=True)

    try:
        run = R.run_command(plan, settings, check=check, on_event=on_event, on_stop=on_stop,
                            say=lambda line: typer.echo(line, err=True), lang=lang.value, timeout=run_timeout,
                            vault_password_file=vault_password_file)
    except R.RemediationError as exc:
        _fail_usage(str(exc))
    if fmt == RemFmt.json:
        sys.stdout.write(json.dumps(run.to_dict(time.perf_counter() - t0), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(run.text(lang.value))
    typer.echo(f"remediate {action.value} done in {time.perf_counter() - t0:.1f} s", err=True)
    raise typer.Exit(run.result.exit_code())


def _use_colour_err() -> bool:
    from netready.render import use_colour

    return use_colour(sys.stderr)


@lab_app.command("up")
def lab_up(
    scale: Annotated[int, typer.Option(
        min=0, max=9999, help="Add N agency zones and portals for batch runs, and N // 9 broken ones (docs/lab.md)."
    )] = 0,
    machines: Annotated[bool, typer.Option("--machines", help="Also boot the real Debian machines (systemd-nspawn) "
                                           "that the playbooks remediate: web1, bind1, knot1.")] = False,
) -> None:
    """Start the lab (idempotent)."""
    from netready import lab as lab_mod

    t0 = time.perf_counter()
    try:
        env = lab_mod.up(scale=scale)
    except lab_mod.LabError as exc:
        typer.echo(f"netready: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"lab up in {time.perf_counter() - t0:.1f} s: {len(env.to_dict()['portals'])} portals")
    if machines:
        from netready.lab import machines as mach

        t1 = time.perf_counter()
        try:
            booted = mach.up()
        except Exception as exc:  # the machines' own errors say what is missing (image, tools, mirror)
            typer.echo(f"netready: lab machines cannot start: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"machines up in {time.perf_counter() - t1:.1f} s: "
                   + ", ".join(f"{m.name} {m.ipv4}" for m in booted))
        inv = mach.write_lab_inventory()
        typer.echo(f"inventory for this lab: {inv}"
                   + (" (inventories/lab/hosts.yml works too)" if lab_mod.lab_name() == "nrlab" else ""))
        typer.echo(f"next: netready remediate all -i {inv} --lab --check")


@lab_app.command("down")
def lab_down() -> None:
    """Stop every lab process and machine, and remove every namespace, link and file they made."""
    from netready import lab as lab_mod
    from netready.lab import machines as mach

    mach.down()  # idempotent: also clears what a crashed run left
    lab_mod.down()
    typer.echo("lab down")


@lab_app.command("status")
def lab_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What runs."""
    from netready import lab as lab_mod

    st = lab_mod.status()
    typer.echo(json.dumps(st, indent=2, default=str) if as_json else _status_text(st))


def _status_text(st: dict) -> str:  # type: ignore[type-arg]
    lines = []
    for key, value in st.items():
        if isinstance(value, dict | list):
            lines.append(f"{key}:")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            lines.extend(f"  {k}: {v}" for k, v in items)
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


@lab_app.command("env")
def lab_env(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The trust anchor, root hints, CA bundle and resolvers that probes need."""
    from netready import lab as lab_mod

    try:
        env = lab_mod.env().to_dict()
    except lab_mod.LabError as exc:
        typer.echo(f"netready: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(env, indent=2, default=str))
        return
    for key in ("root_hints", "trust_anchor", "ca_bundle", "resolvers"):
        typer.echo(f"{key}: {env.get(key)}")
    for p in env.get("portals", []):
        typer.echo(f"portal {p['name']} ({p.get('scenario')}): {' '.join(p.get('ipv4', []) + p.get('ipv6', []))}")


# --- netready monitor, serve, worker (issue #17; the work is in netready/monitor/) ------------------------------

monitor_app = typer.Typer(help="Continuous monitoring: scheduled scans, history in a database, alerts, metrics.",
                          no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
DbOpt = Annotated[str | None, typer.Option("--db", help="Database: a SQLite file or postgresql://... "
                                           "(default $NETREADY_DB, else netready.db here).")]


class StatusFmt(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ViewFmt(StrEnum):
    table = "table"
    json = "json"


def _monitor_db(db: str | None):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import SQLAlchemyError

    from netready.monitor.db import open_db

    try:
        return open_db(db)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        _fail_usage(f"cannot open the monitor database {db or os.environ.get('NETREADY_DB') or 'netready.db'}: {exc}")


@monitor_app.command("add")
def monitor_add(
    names: Annotated[list[str], typer.Argument(help="Portal names (IDN accepted).")],
    org: Annotated[str, typer.Option("--org", help="Organisation: ministry, province or agency.")],
    every: Annotated[str, typer.Option("--every", help="Scan interval: 30m, 24h, 7d...")] = "24h",
    profile: Annotated[str, typer.Option(help="circular32, strict, lab, or a YAML file.")] = "circular32",
    vantage: Annotated[list[str] | None, typer.Option("--vantage", help="Scan from this vantage point's workers "
                                                      "(repeatable; needs monitor run --broker).")] = None,
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """Add portals to the monitor (or change the organisation, interval, profile of known ones)."""
    from netready.monitor import store

    _monitor_write(db, lang, "added", lambda session: store.add_portals(session, names, org, every, profile,
                                                                         vantage or []), org=org, every=every)


def _monitor_write(db: str | None, lang: Lang, message: str, write: Any, **fields: Any) -> None:
    """One write to the monitor's portal list in one transaction; a refused input is a usage error (exit 3)."""
    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.texts import t

    engine = _monitor_db(db)
    try:
        with Session(engine) as session, session.begin():
            got = write(session)
    except store.StoreError as exc:
        _fail_usage(str(exc))
    typer.echo(t(lang.value, message, n=len(got.added), m=len(got.updated), **fields,
                 db=engine.url.render_as_string(hide_password=True)), err=True)


@monitor_app.command("import")
def monitor_import(
    file: Annotated[str, typer.Argument(help="CSV with columns name, org and optionally every, profile, vantage.")],
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """Add portals from a CSV file, grouped by organisation."""
    from netready.monitor import store

    _monitor_write(db, lang, "imported", lambda session: store.import_csv(session, file), file=file)


@monitor_app.command("run")
def monitor_run(
    once: Annotated[bool, typer.Option("--once", help="Scan every portal once, then exit (for cron).")] = False,
    db: DbOpt = None,
    config: Annotated[str | None, typer.Option("--config", help="Alert config (YAML, docs/monitor.md).")] = None,
    broker: Annotated[str | None, typer.Option("--broker", help="Celery broker (redis://...): portals with vantage "
                                               "points are scanned by `netready worker` on each.")] = None,
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    trust_anchor: AnchorOpt = None,
    ca_file: CaOpt = None,
    lab: LabOpt = False,
    concurrency: Annotated[int, typer.Option(min=1, max=512, help="Targets checked at once.")] = 16,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation.")] = 2.0,
    budget: Annotated[float, typer.Option(help="Seconds per target, all probes included.")] = 30.0,
    lang: LangOpt = Lang.en,
) -> None:
    """Scan what is due and store it; with --once scan everything once and exit (exit codes as check), else keep
    running as a scheduler."""
    from netready.app import build_settings
    from netready.errors import UsageError
    from netready.monitor import alerts, schedule
    from netready.monitor.commands import round_line
    from netready.monitor.texts import t

    try:
        settings = build_settings(resolver, root_hints, trust_anchor, ca_file, timeout, budget, use_lab=lab)
        alert_config = alerts.load_config(config)
    except (UsageError, alerts.AlertConfigError) as exc:
        _fail_usage(str(exc))
    engine = _monitor_db(db)

    def report(result: schedule.RoundResult) -> None:
        for name, why in result.skipped.items():
            typer.echo(t(lang.value, "skip_one", name=name, why=why), err=True)
        for err in result.alert_errors:
            typer.echo(t(lang.value, "alert_error", err=err), err=True)
        if result.scanned or result.skipped:
            typer.echo(round_line(result, lang.value), err=True)

    kwargs = dict(lab=lab, concurrency=concurrency, broker=broker, alert_config=alert_config)
    if once:
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(schedule.store.Portal)) or 0
        if not total:
            _fail_usage(t(lang.value, "no_portals"))
        with _progress(total) as on_result:
            result = schedule.run_round(engine, settings, all_portals=True,
                                        on_result=(lambda n, s: on_result(_Named(n))) if on_result else None,
                                        **kwargs)
        report(result)
        if result.interrupted:
            raise typer.Exit(130)
        raise typer.Exit(result.exit_code())
    stopper = schedule.Stopper()
    stopper.install()
    typer.echo(t(lang.value, "loop"), err=True)
    schedule.loop(engine, settings, stopper, report, **kwargs)


class _Named:
    """What the progress callback reads from a result: the target's name."""

    def __init__(self, name: str) -> None:
        self.target = type("T", (), {"ascii_name": name})()


@monitor_app.command("status")
def monitor_status(
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation.")] = None,
    fmt: Annotated[StatusFmt, typer.Option("--format", "-f", help="Output format.")] = StatusFmt.table,
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """One line per portal: last scan, status, score, failing required rules, days to certificate and RRSIG expiry,
    what changed since the previous scan. Exit codes as check (on the last scans)."""
    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.commands import render_status

    engine = _monitor_db(db)
    with Session(engine) as session:
        rows = store.status(session, org)
    sys.stdout.write(render_status(rows, fmt.value, lang.value))
    statuses = {r.status for r in rows}
    raise typer.Exit(1 if "not-compliant" in statuses else 2 if statuses & {"undetermined", "crashed", None} else 0)


@monitor_app.command("history")
def monitor_history(
    name: Annotated[str, typer.Argument(help="Portal name.")],
    fmt: Annotated[ViewFmt, typer.Option("--format", "-f", help="Output format.")] = ViewFmt.table,
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """The portal's timeline: periods with the same verdicts, and every verdict change per rule and address."""
    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.commands import render_history

    engine = _monitor_db(db)
    try:
        with Session(engine) as session:
            hist = store.history(session, name)
    except store.StoreError as exc:
        _fail_usage(str(exc))
    sys.stdout.write(render_history(hist, fmt.value, lang.value))


@monitor_app.command("diff")
def monitor_diff(
    since: Annotated[str, typer.Option("--since", help="How far back: 24h, 7d, 4w...")] = "7d",
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation.")] = None,
    fmt: Annotated[ViewFmt, typer.Option("--format", "-f", help="Output format.")] = ViewFmt.table,
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """What changed across the fleet: portals whose status or verdicts changed since then."""
    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.commands import render_diff

    try:
        back = store.parse_duration(since)
    except store.StoreError as exc:
        _fail_usage(str(exc))
    engine = _monitor_db(db)
    with Session(engine) as session:
        d = store.diff(session, store.now() - back, org)
    sys.stdout.write(render_diff(d, fmt.value, lang.value))


@monitor_app.command("token")
def monitor_token(
    org: Annotated[str | None, typer.Option("--org", help="The organisation whose portals it may read.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Every organisation; may add portals.")] = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="Only for scraping /metrics from another host.")] = False,
    label: Annotated[str, typer.Option(help="A note on who holds it.")] = "",
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """Create an API token (stored hashed with argon2; printed once)."""
    from sqlalchemy.orm import Session

    from netready.monitor import auth, store
    from netready.monitor.texts import t

    role = "admin" if admin else "metrics" if metrics else "read"
    engine = _monitor_db(db)
    try:
        with Session(engine) as session, session.begin():
            token = auth.create_token(session, role, org, label)
    except store.StoreError as exc:
        _fail_usage(str(exc))
    who = t(lang.value, "token_who_org", org=org, role=role) if org else t(lang.value, "token_who_all", role=role)
    typer.echo(t(lang.value, "token", who=who, token=token), err=True)
    typer.echo(token)


@app.command()
def serve(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on.")] = "127.0.0.1:8088",
    db: DbOpt = None,
    lang: LangOpt = Lang.en,
) -> None:
    """The HTTP service: JSON API under /api/v1/ (token needed), Prometheus metrics at /metrics."""
    from netready.app import split_host_port
    from netready.errors import UsageError
    from netready.monitor.texts import t

    try:
        host, port = split_host_port(listen, 8088)
    except UsageError as exc:
        _fail_usage(str(exc))
    engine = _monitor_db(db)
    from netready.monitor.api import run_server

    typer.echo(t(lang.value, "serving", listen=listen), err=True)
    run_server(engine, host, port)


@app.command()
def worker(
    vantage: Annotated[str, typer.Option("--vantage", help="This vantage point's name (its queue).")],
    broker: Annotated[str, typer.Option("--broker", help="Celery broker, e.g. redis://HOST:6379/0.")],
    resolver: ResolverOpt = None,
    root_hints: RootHintsOpt = None,
    trust_anchor: AnchorOpt = None,
    ca_file: CaOpt = None,
    lab: LabOpt = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Portals scanned at once.")] = 2,
    timeout: Annotated[float, typer.Option(help="Seconds per network operation.")] = 2.0,
    budget: Annotated[float, typer.Option(help="Seconds per target, all probes included.")] = 30.0,
    lang: LangOpt = Lang.en,
) -> None:
    """A Celery worker scanning the portals published to this vantage point's queue (run it on a probe host inside
    that network)."""
    from netready.app import build_settings
    from netready.errors import UsageError
    from netready.merge import VANTAGE_RE
    from netready.monitor.texts import t

    if not VANTAGE_RE.match(vantage):
        _fail_usage(f"vantage point name {vantage!r}: use letters, digits, '.', '_' or '-'")
    try:
        settings = build_settings(resolver, root_hints, trust_anchor, ca_file, timeout, budget, use_lab=lab)
    except UsageError as exc:
        _fail_usage(str(exc))
    from netready.monitor import tasks

    typer.echo(t(lang.value, "worker", vantage=vantage, queue=tasks.queue_name(vantage), broker=tasks.safe_url(broker)),
               err=True)
    tasks.run_worker(vantage, broker, settings, lab, concurrency)


def _is(exc: BaseException, name: str) -> bool:
    # typer may vendor click, so match click's exception classes by name rather than by import.
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def main() -> None:
    """Entry point: usage errors exit with 3 (click's default would be 2, which means 'could not run')."""
    try:
        rv = app(standalone_mode=False)
    except Exception as exc:
        if _is(exc, "UsageError"):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_USAGE)
        if _is(exc, "Abort"):
            typer.echo("aborted", err=True)
            sys.exit(130)
        if _is(exc, "Exit"):
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
