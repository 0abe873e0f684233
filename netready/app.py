"""What the CLI commands do, apart from parsing: build settings, run scans, write outputs.

cli.py stays thin; everything here is callable (and tested) without typer.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netready.errors import UsageError
from netready.model import ProbeSettings


def default_root_hints() -> str:
    from netready import resources

    return str(resources.path("data", "named.root"))


def build_settings(
    resolvers: list[str] | None = None,
    root_hints: str | None = None,
    trust_anchor: str | None = None,
    ca_file: str | None = None,
    timeout: float = 2.0,
    budget: float = 30.0,
    use_lab: bool = False,
) -> ProbeSettings:
    """Probe settings from options; --lab fills in whatever the running lab provides."""
    lab_flag = False
    if use_lab:
        from netready import lab

        env = lab.trust()  # not lab.env(): a scaled lab's portal list is 14 MB of JSON (LabError: see command_settings)
        root_hints = root_hints or env["root_hints"]
        trust_anchor = trust_anchor or env["trust_anchor"]
        ca_file = ca_file or env["ca_bundle"]
        lab_flag = True
    for label, path in (("root hints", root_hints), ("trust anchor", trust_anchor), ("CA bundle", ca_file)):
        if path and not Path(path).is_file():
            raise UsageError(f"{label} file not found: {path}")
    if not resolvers and not root_hints:
        root_hints = default_root_hints()
    return ProbeSettings(
        resolvers=list(resolvers or []),
        root_hints=root_hints,
        trust_anchor=trust_anchor,
        ca_file=ca_file,
        timeout=timeout,
        budget=budget,
        lab=lab_flag,
    )


def command_settings(*args: Any, **kwargs: Any) -> ProbeSettings:
    """build_settings for `check` and the area commands (both the typer and the fast path): a lab that is not
    up is a usage error there, said in one line (exit 3). Other commands catch LabError with their own hint."""
    from netready.lab.errors import LabError

    try:
        return build_settings(*args, **kwargs)
    except LabError as exc:
        raise UsageError(f"--lab: {exc}") from exc


def read_names(names: list[str], input_file: str | None) -> list[str]:
    """Names from the command line and/or a file: a plain list (one per line, # comments) or a CSV
    with a 'name' (or 'domain') column."""
    out = [n for n in names if n.strip()]
    if input_file:
        path = Path(input_file)
        if not path.is_file():
            raise UsageError(f"input file not found: {input_file}")
        text = path.read_text(encoding="utf-8-sig")
        first = text.splitlines()[0] if text.strip() else ""
        if "," in first or first.strip().lower() in ("name", "domain"):
            reader = csv.DictReader(io.StringIO(text))
            fields = {f.strip().lower(): f for f in reader.fieldnames or []}
            column = fields.get("name") or fields.get("domain")
            if column is None:
                raise UsageError(f"{input_file}: CSV needs a 'name' or 'domain' column (found {reader.fieldnames})")
            out.extend(row[column].strip() for row in reader if (row.get(column) or "").strip())
        else:
            out.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if not out:
        raise UsageError("no name to check: give names as arguments or --input FILE")
    # The same portal written twice (case, trailing dot, Unicode vs punycode) is checked once.
    from netready.probes.dns_names import NameError_, to_ascii

    seen: set[str] = set()
    unique = []
    for name in out:
        try:
            key = to_ascii(name)
        except NameError_:
            key = name.strip()
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


@dataclass
class DemoResult:
    report_text: str
    json_path: Path
    html_path: Path
    exit_code: int


def lab_portal_names(env: dict[str, Any]) -> list[str]:
    return [p["name"] for p in env.get("portals", [])]


@dataclass
class CheckRun:
    report: Any  # netready.model.Report; None when the JSON report was streamed from the journal
    interrupted: bool
    resumed: int  # targets taken from the journal
    targets: int = 0  # targets in the report
    summary: dict[str, Any] | None = None  # at least "totals" and "interrupted"


def run_check(
    names: list[str],
    settings: ProbeSettings,
    profile: Any,
    concurrency: int = 16,
    output: str | None = None,
    resume: bool = False,
    fmt: str = "json",
    lang: str = "en",
    on_result: Any = None,
    processes: int | None = None,
) -> CheckRun:
    """A batch check that journals each finished target when writing to a file, resumes from that
    journal, and on Ctrl-C still writes a valid report of what finished. processes=None: one worker
    process per core for large batches (netready.scan.auto_processes), 1 for small ones.

    With `-f json -o FILE` nothing of a finished target stays in memory: the report is streamed from the
    journal at the end (netready.journal.write_journal_report), so memory does not grow with the number of
    names. Other formats need every result in memory to render."""
    from netready.journal import Journal, journal_index, journal_path, write_atomic, write_journal_report
    from netready.judge import judge_target
    from netready.model import utc_now
    from netready.render import render
    from netready.scan import TargetResult, auto_processes, build_report, scan_results

    if resume and not output:
        raise UsageError("--resume needs --output FILE (the run to resume)")
    started = utc_now()
    lean = bool(output) and fmt == "json"
    journal = None
    index = None
    done: dict[str, TargetResult] | set[str] = {}
    if output:
        jpath = journal_path(output)
        if resume:
            index = journal_index(jpath)
            wanted = set(names)
            if lean:
                done = {n for n in index.targets if n in wanted}
            else:  # rendered from memory: the journaled results are read back and judged again under `profile`
                from netready.journal import JournalReader

                reader = JournalReader(jpath, index)
                try:
                    for n, offset in index.targets.items():
                        if n in wanted:
                            r = reader.result(reader.record(offset))
                            done[n] = TargetResult(r.target, r.observations,
                                                   judge_target(r.target, r.observations, profile))
                finally:
                    reader.close()
        journal = Journal(jpath, fresh=not resume, profile=profile, index=index)
    n_done = len(done)

    def record(result: Any) -> None:
        if journal:
            journal.append(result)
        if on_result:
            on_result(result)

    try:
        if processes is None:
            processes = auto_processes(len(names) - n_done)
        # Lean: each result becomes its journal line in the process that checked it (netready.journal.LineEncoder),
        # so that work is spread over the cores; on_result then gets that line (it has .target).
        outcome = scan_results(names, settings, profile, concurrency, on_result=record, done=done,
                               processes=processes, keep="none" if lean else "all",
                               encode=journal.encoder() if lean and journal else None)
    finally:
        if journal:
            journal.close()
    if lean:
        head = build_report([], settings, profile, started).head()
        streamed = write_journal_report(Path(output), journal_path(output), names, head, profile,  # type: ignore[arg-type]
                                        outcome.interrupted)
        return CheckRun(None, outcome.interrupted, n_done, streamed.targets, streamed.summary)
    results = outcome.results
    if output and outcome.interrupted:
        # Ctrl-C can land between a result arriving and its journal line being written. The journal is
        # what --resume trusts, so the report holds exactly the journaled targets; the others are redone.
        journaled = journal_index(journal_path(output)).targets
        results = [r for r in results if r.target.name in journaled]
    report = build_report(results, settings, profile, started)
    report.summary["interrupted"] = outcome.interrupted
    if output:
        write_atomic(Path(output), render(report, fmt, lang))
    return CheckRun(report, outcome.interrupted, n_done, len(report.targets), report.summary)


# Probes each area command runs (default: the probe named like the area).
AREA_PROBES: dict[str, tuple[str, ...]] = {"ipv6": ("ipv6", "ipv6only")}


# A batch larger than this checks the pages of the IPv6-only check (VN-IPV6-ONLY) without the browser unless
# --browser is given: headless Chromium loads a few pages a second on 2 cores and needs ~150 MB (PSS) per
# checking process, so a national sweep with it could neither keep its pace nor its memory bound
# (docs/scale.md: measured). The choice is stated in every VN-IPV6-ONLY finding and in the report's settings.
BROWSER_BATCH_MAX = 100
BROWSER_OFF = {
    "no-browser": "the browser check is turned off (--no-browser)",
    "batch": ("a batch of {n} names: pages parsed without the browser, netready's default above "
              f"{BROWSER_BATCH_MAX} names (--browser loads every page in Chromium)"),
}


def with_ipv6only_options(settings: ProbeSettings, browser: bool | None = True, follow: list[str] | None = None,
                          history: list[str] | None = None, names: int = 1) -> ProbeSettings:
    """The IPv6-only page check's options (--browser/--no-browser, --follow, --history) on settings; a history
    source that cannot be read is a usage error now, not a note in every finding. browser=None: decide from
    the number of names (BROWSER_BATCH_MAX), and say why when the browser is not used."""
    from netready.ipv6only_history import HistoryError, load_history

    if history:
        try:
            load_history(list(history))
        except HistoryError as exc:
            raise UsageError(str(exc)) from exc
    for page in follow or []:
        if not page.strip() or any(c.isspace() for c in page.strip()):
            raise UsageError(f"--follow {page!r}: a path (/dang-nhap) or an https:// URL of the portal")
    if browser is None:
        browser = names <= BROWSER_BATCH_MAX
        settings.browser_off = None if browser else BROWSER_OFF["batch"].format(n=names)
    else:
        settings.browser_off = None if browser else BROWSER_OFF["no-browser"]
    settings.browser = browser
    settings.follow = [p.strip() for p in follow or []]
    settings.history = list(history or [])
    return settings


def split_host_port(text: str, default_port: int = 443) -> tuple[str, int]:
    """HOST, HOST:PORT, [V6]:PORT or a bare IPv6 literal."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise UsageError(f"bad port in {text!r}")
    number = int(port) if port else default_port
    if not 0 < number < 65536:
        raise UsageError(f"port out of range in {text!r}")
    return host, number


def area_report(
    area: str,
    name: str,
    settings: ProbeSettings,
    profile: Any,
    port: int = 443,
    addresses: list[str] | None = None,
    sni: str | None = None,
) -> Any:
    """Probe one name with one area's probe and judge only that area's rules: a Report. The name goes through
    the scanner's one path for a target (scan.check_one: its budget, a crash kept as that name's error), except
    a TLS scan of given addresses, port or SNI."""
    from netready.model import utc_now
    from netready.rules import of_area
    from netready.scan import build_report

    started = utc_now()
    if area == "tls" and (addresses or port != 443 or sni):
        result = _tls_scan_result(name, settings, profile, port, addresses, sni)
    else:
        from netready import probes
        from netready.scan import check_one

        result = check_one(name, settings, profile, [n for n in AREA_PROBES.get(area, (area,))
                                                     if probes.load(n) is not None])
    wanted = of_area(area)
    result.findings = [f for f in result.findings if f.rule_id in wanted]
    return build_report([result], settings, profile, started)


def _tls_scan_result(name: str, settings: ProbeSettings, profile: Any, port: int, addresses: list[str] | None,
                     sni: str | None) -> Any:
    """`netready tls NAME` at given addresses, another port or another SNI: the TLS probe's own scan, judged."""
    from netready.judge import judge_target
    from netready.model import Target, TargetResult
    from netready.probes import tls
    from netready.scan import admit

    observations = tls.scan_host(name, port, addresses, sni, settings)
    ascii_name = observations[0].target if observations else name
    target = Target(name=name, ascii_name=ascii_name,
                    ipv4=[a for a in addresses or [] if ":" not in a],
                    ipv6=[a for a in addresses or [] if ":" in a])
    if not addresses:
        probed = {o.data.get("address") for o in observations if isinstance(o.data, dict)} - {None}
        target.ipv4 = sorted(a for a in probed if ":" not in a)
        target.ipv6 = sorted(a for a in probed if ":" in a)
    target, observations = admit(target, observations)
    return TargetResult(target, observations, judge_target(target, observations, profile))


CHECK_MSG = {
    "en": {"written": "report written to {output} ({done} of {total} targets{resumed}; journal {output}.jsonl)",
           "resumed": ", {n} resumed",
           "interrupted": "interrupted: the report holds the finished targets; run again with --resume to complete it"},
    "vi": {"written": "đã ghi báo cáo vào {output} ({done}/{total} tên miền{resumed}; nhật ký {output}.jsonl)",
           "resumed": ", {n} lấy lại từ lần chạy trước",
           "interrupted": "đã dừng: báo cáo chứa các tên miền đã kiểm tra xong; chạy lại với --resume để hoàn tất"},
}


def check_main(names: list[str] | None, options: dict[str, Any]) -> int:
    """`netready check` after parsing, for cli.py and the typer-free path of netready/entry.py alike (a national
    sweep's main process then carries no typer, click or pydantic: about 7 MB less, docs/scale.md). options:
    the command's parameters by cli.py's names. Raises UsageError or ProfileError on bad input (exit 3 for the caller);
    returns the exit code, or ends the process with 130 when interrupted (everything finished is on disk)."""
    import os

    from netready.judge import exit_code
    from netready.profiles import load_for_run
    from netready.render import render, use_colour

    lang, output = options["lang"], options.get("output")
    targets = read_names(names or [], options.get("input_file"))
    prof = load_for_run(options["profile"], options["lab"])
    settings = command_settings(options.get("resolver"), options.get("root_hints"), options.get("trust_anchor"),
                                options.get("ca_file"), options["timeout"], options["budget"], use_lab=options["lab"])
    with_ipv6only_options(settings, options.get("browser"), options.get("follow"), options.get("history"),
                          names=len(targets))
    if options.get("resume") and not output:
        raise UsageError("--resume needs --output FILE (the run to resume)")
    with progress(len(targets)) as on_result:
        run = run_check(targets, settings, prof, options["concurrency"], output, bool(options.get("resume")),
                        options["fmt"], lang, on_result)
    if output:
        resumed = CHECK_MSG[lang]["resumed"].format(n=run.resumed) if run.resumed else ""
        sys.stderr.write(CHECK_MSG[lang]["written"].format(output=output, done=run.targets, total=len(targets),
                                                           resumed=resumed) + "\n")
    else:
        sys.stdout.write(render(run.report, options["fmt"], lang, colour=use_colour()))
    if run.interrupted:
        sys.stderr.write(CHECK_MSG[lang]["interrupted"] + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # in-flight probes are abandoned; everything finished is already on disk
    return exit_code(run.summary)


@contextlib.contextmanager
def progress(total: int):  # type: ignore[no-untyped-def]
    """A progress bar on a terminal for more than one target; yields the per-result callback."""
    if total <= 1 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("checking", total=total)
        yield lambda r: progress.update(task, advance=1, description=r.target.ascii_name)


def area_main(area: str, target: str, options: dict[str, Any]) -> int:
    """`netready dnssec|tls|ipv6 TARGET` after parsing, for cli.py and the typer-free path of netready/entry.py
    alike: the report written to options["output"] or stdout; the exit code. options: the command's
    parameters by cli.py's names (resolver, root_hints, lab, profile, fmt, lang, output, timeout;
    dnssec: trust_anchor; tls: address, ca_file, sni; ipv6: ca_file, no_browser, follow, history). Raises
    UsageError or ProfileError on bad input (exit 3 for the caller)."""
    settings_args: dict[str, Any] = dict(resolvers=options.get("resolver"), root_hints=options.get("root_hints"),
                                         timeout=options["timeout"], use_lab=options["lab"])
    for key in ("trust_anchor", "ca_file"):
        if key in options:
            settings_args[key] = options[key]
    extra = None
    if area == "tls":
        target, port = split_host_port(target)
        extra = dict(port=port, addresses=options.get("address"), sni=options.get("sni"))
    if area == "ipv6":
        settings_args["ipv6only"] = dict(browser=not options["no_browser"], follow=options.get("follow"),
                                         history=options.get("history"))
    text, code = area_command(area, target, options["fmt"], options["lang"], options["profile"], settings_args, extra)
    if options.get("output"):
        Path(options["output"]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return code


def area_command(area: str, name: str, fmt: str, lang: str, profile: str, settings_args: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> tuple[str, int]:
    """What `netready dnssec|tls|ipv6 NAME` prints, and its exit code (0 compliant, 1 not, 2 a required
    check could not run). Raises UsageError or ProfileError on bad input (exit 3 for the caller)."""
    from netready.judge import exit_code
    from netready.profiles import load_for_run
    from netready.render import render, use_colour
    from netready.views import area_text

    args = dict(settings_args)
    lab = args.pop("use_lab")
    v6only = args.pop("ipv6only", None)
    prof = load_for_run(profile, lab)
    settings = command_settings(**args, use_lab=lab)
    if v6only is not None:
        with_ipv6only_options(settings, **v6only)
    report = area_report(area, name, settings, prof, **(extra or {}))
    if fmt == "table":
        text = area_text(area, report.observations, lang) + render(report, "table", lang, colour=use_colour())
    else:
        text = render(report, fmt, lang)
    return text, exit_code(report.summary)
