"""Remediation: run a netready playbook through ansible-runner, then re-probe the portals it affects.

    result = remediate("dnssec", "inventories/idc/hosts.yml", check=False, limit=None, settings=settings)
    result.exit_code()  # 0 fixed, 1 a host failed or was unreachable, 2 a required rule still fails

Flow: read the inventory (ansible-inventory) to find the hosts the run touches and their portals
(host var `netready_portals`), scan those portals (before), run the playbook in a private temporary
directory with an event handler (per-host, per-task progress), summarise ok/changed/failed/unreachable
per host, scan again (after) and pair the verdicts rule by rule. In check mode nothing changes, so the
portals are scanned once and the "after" column is left empty.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from netready import resources
from netready.model import ProbeSettings, Report
from netready.rules import gated_by
from netready.sanitize import clean_text

Action = Literal["dual-stack", "dnssec", "tls", "all"]
PLAYBOOK_DIR = resources.folder("playbooks")  # inside the package, from a source tree or a wheel
PLAYBOOKS: dict[str, str] = {
    "dual-stack": "dual_stack.yml",
    "dnssec": "dnssec_sign.yml",
    "tls": "tls_certificates.yml",
    "all": "site.yml",
}
HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_item_on_failed": "failed",
}
EXIT_OK, EXIT_HOST_FAILED, EXIT_STILL_FAILING = 0, 1, 2


class RemediationError(RuntimeError):
    """The run could not start: unknown action, missing inventory or playbook, unreadable inventory."""


@dataclass
class TaskEvent:
    """One task result on one host, as the run goes (what `on_event` receives)."""

    host: str
    task: str
    status: str  # ok | changed | failed | unreachable | skipped
    play: str = ""
    role: str = ""
    message: str = ""  # the module's msg for failures (never the module's full output: no_log data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HostSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass
class VerdictChange:
    portal: str
    rule_id: str
    level: str
    subject: str | None
    before: str | None  # verdict before the run (None: not judged)
    after: str | None  # verdict after the run (None in check mode)
    message: str = ""  # the latest English message
    message_vi: str = ""  # the same in Vietnamese


WORST_FIRST = ("error", "fail", "warn", "info", "pass")


def worst(verdicts: list[str | None]) -> str | None:
    """The worst of the verdicts given (None when none was judged)."""
    present = [v for v in verdicts if v in WORST_FIRST]
    return min(present, key=WORST_FIRST.index) if present else None


@dataclass
class RuleChange:
    """One rule on one portal, over all its subjects (addresses): the worst verdict before and after."""

    portal: str
    rule_id: str
    level: str
    before: str | None
    after: str | None


@dataclass
class RemediationResult:
    action: str
    playbook: str
    inventory: str
    check: bool
    limit: str | None
    status: str  # ansible-runner status: successful | failed | timeout | canceled
    rc: int
    hosts: dict[str, HostSummary] = field(default_factory=dict)
    events: list[TaskEvent] = field(default_factory=list)
    portals: list[str] = field(default_factory=list)
    before: Report | None = None
    after: Report | None = None
    verdicts: list[VerdictChange] = field(default_factory=list)
    stdout: str = ""  # Ansible's own text output, for the log

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, s in self.hosts.items() if s.failed or s.unreachable)

    @property
    def rollbacks(self) -> list[TaskEvent]:
        """The changes a role undid (block/rescue: the reload or the check after a change failed, the previous
        configuration is back): one failed event per rollback, its message starting with ROLLED BACK."""
        return [e for e in self.events if e.status == "failed" and e.message.startswith("ROLLED BACK")]

    def still_failing(self) -> list[VerdictChange]:
        """Required rules of this action that do not pass on the latest scan."""
        rules = gated_by(self.action)
        out = []
        for v in self.verdicts:
            latest = v.before if self.check else v.after
            if v.rule_id in rules and v.level == "required" and latest is not None and latest != "pass":
                out.append(v)
        return out

    def exit_code(self) -> int:
        return remediation_exit_code(self)

    def rule_changes(self) -> list[RuleChange]:
        """Per portal and rule, worst over subjects: a rule judged once before (no AAAA) and per address after
        (one row per AAAA) still reads as one change, e.g. VN-IPV6-WEB fail -> pass."""
        rows: dict[tuple[str, str], list[VerdictChange]] = {}
        for v in self.verdicts:
            rows.setdefault((v.portal, v.rule_id), []).append(v)
        return [RuleChange(portal, rule, vs[0].level, worst([v.before for v in vs]), worst([v.after for v in vs]))
                for (portal, rule), vs in rows.items()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "playbook": self.playbook, "inventory": self.inventory, "check": self.check,
            "limit": self.limit, "status": self.status, "rc": self.rc,
            "hosts": {h: asdict(s) | {"status": s.status} for h, s in self.hosts.items()},
            "events": [e.to_dict() for e in self.events], "portals": self.portals,
            "rollbacks": [e.to_dict() for e in self.rollbacks],
            "verdicts": [asdict(v) for v in self.verdicts], "rules": [asdict(r) for r in self.rule_changes()],
            "exit_code": self.exit_code(),
        }


def remediation_exit_code(result: RemediationResult) -> int:
    """0: every host ok and every required rule of the action passes; 1: a host failed or was
    unreachable (or Ansible itself failed); 2: hosts fine but a required rule still fails.
    In check mode nothing changes, so 2 means "a real run is needed": the scan before fails a rule."""
    if result.failed_hosts or result.status != "successful" or result.rc != 0:
        return EXIT_HOST_FAILED
    if result.still_failing():
        return EXIT_STILL_FAILING
    return EXIT_OK


def _ansible_bin(name: str) -> str:
    """Ansible's tools from the interpreter's own environment first (the venv), then PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise RemediationError(f"{name} not found: install the 'ansible' Python package")
    return found


def inventory_hosts(inventory: str, limit: str | None = None,
                    pattern: str = "all") -> dict[str, dict[str, Any]]:
    """Host -> merged variables of every host in the inventory matching pattern (and limit)."""
    argv = [_ansible_bin("ansible-inventory"), "-i", inventory, "--list"]
    if limit:
        argv += ["--limit", limit]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RemediationError(f"cannot read inventory {inventory}: {exc}") from exc
    if proc.returncode != 0:
        raise RemediationError(f"cannot read inventory {inventory}: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout)
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})
    members = _group_hosts(data, pattern)
    return {h: hostvars.get(h, {}) for h in members}


def _group_hosts(data: dict[str, Any], group: str, seen: set[str] | None = None) -> list[str]:
    seen = seen or set()
    if group in seen or group not in data:
        return []
    seen.add(group)
    node = data[group]
    hosts = list(node.get("hosts", []))
    for child in node.get("children", []):
        hosts += [h for h in _group_hosts(data, child, seen) if h not in hosts]
    return hosts


def portals_of(hosts: dict[str, dict[str, Any]]) -> list[str]:
    """Portal names the hosts serve (host var netready_portals, a list or one name), in order, once."""
    out: list[str] = []
    for variables in hosts.values():
        names = variables.get("netready_portals") or []
        for name in [names] if isinstance(names, str) else names:
            if name not in out:
                out.append(name)
    return out


def affected_portals(inventory: str, limit: str | None = None,
                     hosts: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The portals a run on these hosts can change: those the hosts serve (netready_portals), then any portal
    of the inventory inside a zone the hosts sign (dnssec_zones), so `dnssec --limit ns1` re-probes the
    portals of ns1's zones. hosts: inventory_hosts(inventory, limit), when the caller has it already."""
    hosts = inventory_hosts(inventory, limit) if hosts is None else hosts
    out = portals_of(hosts)
    zones = [str(z.get("name", "")).rstrip(".").lower() for v in hosts.values()
             for z in v.get("dnssec_zones") or [] if isinstance(z, dict)]
    if zones:
        every = inventory_hosts(inventory) if limit else hosts
        for name in portals_of(every):
            if name not in out and any(name.lower() == z or name.lower().endswith("." + z) for z in zones if z):
                out.append(name)
    return out


def _event_to_task(event: dict[str, Any]) -> TaskEvent | None:
    kind = event.get("event", "")
    status = HOST_EVENTS.get(kind)
    if status is None:
        return None
    data = event.get("event_data", {})
    res = data.get("res") or {}
    if status == "ok" and res.get("changed"):
        status = "changed"
    msg = ""
    host = data.get("host", "?")
    if status in ("failed", "unreachable"):
        msg = str(res.get("msg") or res.get("stderr") or "")[:2000]
        if res.get("censored"):
            msg = str(res["censored"])
        hint = host_key_hint(msg, host, data.get("remote_addr") or host)
        if hint:
            msg = f"{msg.strip()}\n{hint}"
    # what a managed host prints can hold terminal escapes: escaped here, where it enters netready
    return TaskEvent(host=clean_text(host), task=clean_text(data.get("task", "")), status=status,
                     play=clean_text(data.get("play", "")), role=clean_text(data.get("role", "")),
                     message=clean_text(msg))


HOST_KEY_UNKNOWN = ("Host key verification failed", "No ED25519 host key is known", "No RSA host key is known",
                    "No ECDSA host key is known")
HOST_KEY_CHANGED = ("REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key for", "POSSIBLE DNS SPOOFING")


def host_key_hint(message: str, host: str, address: str) -> str:
    """How to add (or check) a host's SSH key, when SSH refused the host for it (issue #15: host keys are
    checked, the run fails closed). Empty when the message is about something else."""
    if any(m in message for m in HOST_KEY_CHANGED):
        what_en, what_vi = "CHANGED since it was recorded", "ĐÃ THAY ĐỔI so với khóa đã lưu"
    elif any(m in message for m in HOST_KEY_UNKNOWN):
        what_en, what_vi = "not known", "chưa được biết"
    else:
        return ""
    return (f"The SSH host key of {host} ({address}) is {what_en}: nothing was done there. Compare its fingerprint "
            f"with the server's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then add it: "
            f"ssh-keyscan -t ed25519 {address} >> ~/.ssh/known_hosts (after removing a changed one: "
            f"ssh-keygen -R {address}). / Khóa SSH của máy chủ {host} {what_vi}: chưa làm gì trên máy này. Đối chiếu "
            f"dấu vân tay với khóa trên máy chủ rồi thêm vào ~/.ssh/known_hosts bằng ssh-keyscan.")


def _stats_to_hosts(stats: dict[str, Any] | None) -> dict[str, HostSummary]:
    hosts: dict[str, HostSummary] = {}
    if not stats:
        return hosts
    keys = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable", "skipped": "skipped",
            "rescued": "rescued", "ignored": "ignored"}
    for key, attr in keys.items():
        for host, n in (stats.get(key) or {}).items():
            setattr(hosts.setdefault(host, HostSummary()), attr, int(n))
    return hosts


STOP_GRACE = 600  # seconds a stopping run may take to finish its play before it is killed


class Stop:
    """Asks a running playbook to stop at the next play boundary (each play starts by checking the stop file,
    playbooks/*.yml pre_tasks), so no play is left half done: a play's changes, reloads and rollbacks all
    happen, the next play never starts. kill() ends it at once (a second Ctrl-C, or the grace period ran out)."""

    def __init__(self, directory: Path) -> None:
        self.file = directory / "stop"
        self.requested_at: float | None = None
        self.killed = False
        self.reason = ""

    def request(self, reason: str) -> None:
        if self.requested_at is None:
            self.file.write_text(reason + "\n")
            self.requested_at = time.monotonic()
            self.reason = reason

    def kill(self) -> None:
        self.killed = True

    def cancel_now(self) -> bool:
        """ansible-runner's cancel_callback: True kills the run."""
        if self.killed:
            return True
        return self.requested_at is not None and time.monotonic() - self.requested_at > STOP_GRACE


def run_playbook(playbook: str, inventory: str, check: bool = False, limit: str | None = None,
                 extravars: dict[str, Any] | None = None,
                 on_event: Callable[[TaskEvent], None] | None = None,
                 timeout: int | None = None, vault_password_file: str | None = None,
                 on_stop: Callable[[Stop], None] | None = None,
                 ) -> tuple[str, int, dict[str, HostSummary], list[TaskEvent], str]:
    """Run one playbook with ansible-runner; returns (status, rc, per-host summary, task events, stdout).

    timeout: after so many seconds the run is asked to stop at the next play boundary (and killed STOP_GRACE
    seconds later). Ctrl-C (KeyboardInterrupt) does the same; a second Ctrl-C kills it at once. ansible-playbook
    runs in a session of its own, so the terminal's Ctrl-C reaches only this process. on_stop(stop) is called
    when a stop is requested (the CLI says what happens). A stopped run has status "stopped"."""
    import ansible_runner

    events: list[TaskEvent] = []
    stats: dict[str, Any] = {}

    def handler(event: dict[str, Any]) -> bool:
        if event.get("event") == "playbook_on_stats":
            stats.update(event.get("event_data", {}))
        task = _event_to_task(event)
        if task:
            events.append(task)
            if on_event:
                on_event(task)
        return False  # ansible-runner need not write the event to disk

    cmdline = "--diff" + (" --check" if check else "")
    if vault_password_file:
        cmdline += f" --vault-password-file {shlex.quote(str(Path(vault_password_file).resolve()))}"
    with tempfile.TemporaryDirectory(prefix="netready-remediate-") as pdd:
        stop = Stop(Path(pdd))
        envvars = {
            "ANSIBLE_ROLES_PATH": str(PLAYBOOK_DIR / "roles"),
            "ANSIBLE_CONFIG": str(PLAYBOOK_DIR / "ansible.cfg"),
            # Fail closed on an unknown or changed SSH host key, whatever the caller's environment says; only an
            # inventory may turn it off for its own hosts (the lab's throwaway machines do, issue #15).
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            # Each play's first task ends the play when this file exists (Ctrl-C, timeout).
            "NETREADY_STOP_FILE": str(stop.file),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "True",
            # SSH multiplexing sockets are keyed by host/port/user only: lab instances in other network
            # namespaces use the same addresses, so a shared control path would reach their machines.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(Path(pdd) / "cp"),
            # Ansible's tools come from the same environment as this interpreter.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        thread, runner = ansible_runner.run_async(
            private_data_dir=pdd,
            playbook=str(Path(playbook).resolve()),
            inventory=str(Path(inventory).resolve()),
            limit=limit,
            cmdline=cmdline,
            extravars=extravars or {},
            envvars=envvars,
            quiet=True,
            event_handler=handler,
            cancel_callback=stop.cancel_now,
            suppress_env_files=True,
        )
        deadline = time.monotonic() + timeout if timeout else None

        def ask_stop(reason: str) -> None:
            if stop.requested_at is None:
                stop.request(reason)
                if on_stop:
                    on_stop(stop)

        # Ctrl-C sets a flag instead of raising: a KeyboardInterrupt inside Thread.join() can leave the thread
        # looking dead while ansible-playbook still runs (CPython), and one inside ansible-runner's reading of
        # its events would lose the summary.
        interrupts: list[float] = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda _sig, _frame: interrupts.append(time.monotonic()))
        try:
            handled = 0
            while thread.is_alive():
                thread.join(0.2)
                if deadline is not None and time.monotonic() > deadline:
                    ask_stop(f"timeout of {timeout} s")
                while handled < len(interrupts):
                    handled += 1
                    if stop.requested_at is None:
                        ask_stop("Ctrl-C")
                    elif not stop.killed:
                        stop.kill()
                        if on_stop:
                            on_stop(stop)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        stdout = runner.stdout.read() if runner.stdout else ""
        hosts = _stats_to_hosts(stats or runner.stats)
        for e in events:  # hosts that failed before any stats (syntax errors never reach here)
            hosts.setdefault(e.host, HostSummary())
        status, rc = runner.status, int(runner.rc or 0)
        if stop.requested_at is not None:  # ended early on purpose: never "successful"
            status, rc = ("killed" if stop.killed or status in ("canceled", "timeout") else "stopped"), rc or 1
        return status, rc, hosts, events, stdout


def compare(before: Report | None, after: Report | None) -> list[VerdictChange]:
    """Pair findings of the two scans by (portal, rule, subject)."""
    rows: dict[tuple[str, str, str | None], VerdictChange] = {}
    for which, report in (("before", before), ("after", after)):
        if report is None:
            continue
        for f in report.findings:
            key = (f.target, f.rule_id, f.subject)
            row = rows.setdefault(key, VerdictChange(f.target, f.rule_id, f.level, f.subject, None, None))
            setattr(row, which, f.verdict)
            row.message, row.message_vi = f.text("en"), f.text("vi")
    return list(rows.values())


def remediate(
    action: Action,
    inventory: str,
    check: bool = False,
    limit: str | None = None,
    settings: ProbeSettings | None = None,
    portals: list[str] | None = None,
    on_event: Callable[[TaskEvent], None] | None = None,
    profile: str | None = None,
    extravars: dict[str, Any] | None = None,
    timeout: int | None = None,
    between: Callable[[], None] | None = None,
    vault_password_file: str | None = None,
    on_stop: Callable[[Stop], None] | None = None,
) -> RemediationResult:
    """Run the action's playbook on the inventory and judge the affected portals before and after.

    settings None: no scans (only the Ansible summary). portals None: affected_portals(inventory, limit),
    the `netready_portals` of the hosts the run touches and the portals inside the zones they sign.
    profile: a profile name or file (default: lab when settings.lab, else circular32). between: called
    after the playbook and before the re-probe (e.g. to hand the exported DS to the parent, the registrar's
    step, in a lab).
    """
    if action not in PLAYBOOKS:
        raise RemediationError(f"unknown action {action!r}: choose one of {', '.join(PLAYBOOKS)}")
    if not Path(inventory).exists():
        raise RemediationError(f"inventory {inventory} does not exist")
    playbook = PLAYBOOK_DIR / PLAYBOOKS[action]
    if portals is None:
        portals = affected_portals(inventory, limit)

    scan_fn = None
    if settings is not None and portals:
        from netready.profiles import load_profile
        from netready.scan import scan

        prof = load_profile(profile or ("lab" if settings.lab else "circular32"))

        def scan_fn() -> Report:
            return scan(list(portals), settings, prof)

    before = scan_fn() if scan_fn else None
    status, rc, hosts, events, stdout = run_playbook(str(playbook), inventory, check, limit, extravars,
                                                     on_event, timeout, vault_password_file, on_stop)
    stopped = status in ("stopped", "killed")
    if between and not check and not stopped:
        between()
    after = scan_fn() if scan_fn and not check and status != "killed" else None
    return RemediationResult(
        action=action, playbook=str(playbook), inventory=str(inventory), check=check, limit=limit,
        status=status, rc=rc, hosts=hosts, events=events, portals=list(portals), before=before, after=after,
        verdicts=compare(before, after), stdout=stdout,
    )


LABELS = {
    "en": {"check": "--check (nothing changed)", "hosts": "hosts", "verdicts": "verdicts (before -> after):",
           "verdicts_check": "verdicts now (check mode: a real run is needed while a required rule fails):",
           "exit": "exit code",
           "rollbacks": "ROLLED BACK: {n} change(s) undone on {hosts}; those services run their previous configuration",
           "stopped": "STOPPED at a play boundary (Ctrl-C or timeout): the plays that ran are complete, the rest did "
                      "not start; run again to finish",
           "killed": "KILLED before its play ended (second Ctrl-C, or the stop took too long): check the hosts, then "
                     "run again (each change is validated and idempotent)"},
    "vi": {"check": "--check (không thay đổi gì)", "hosts": "máy chủ", "verdicts": "kết quả (trước -> sau):",
           "verdicts_check": "kết quả hiện tại (chế độ kiểm tra: cần chạy thật khi còn quy tắc bắt buộc chưa đạt):",
           "exit": "mã thoát",
           "rollbacks": "ĐÃ KHÔI PHỤC: {n} thay đổi được hoàn tác trên {hosts}; các dịch vụ đó chạy cấu hình trước đó",
           "stopped": "ĐÃ DỪNG giữa hai play (Ctrl-C hoặc hết thời gian): các play đã chạy đã hoàn tất, phần còn lại "
                      "chưa chạy; chạy lại để hoàn thành",
           "killed": "ĐÃ BUỘC DỪNG khi play chưa xong: kiểm tra các máy chủ rồi chạy lại"},
}


def format_summary(result: RemediationResult, lang: str = "en") -> str:
    """Plain-text summary: hosts, then verdicts before -> after with the latest reason (for the CLI)."""
    lab = LABELS.get(lang, LABELS["en"])
    lines = [f"{result.action} ({Path(result.playbook).name}){' ' + lab['check'] if result.check else ''}: "
             f"{result.status}"]
    for host, s in sorted(result.hosts.items()):
        lines.append(f"  {host:<20} {s.status:<11} ok={s.ok} changed={s.changed} failed={s.failed} "
                     f"unreachable={s.unreachable} skipped={s.skipped}")
    for e in result.events:
        if e.status in ("failed", "unreachable"):
            lines.append(f"  ! {e.host}: {e.task}: {e.message}")
    if result.rollbacks:
        lines.append(lab["rollbacks"].format(n=len(result.rollbacks),
                                             hosts=", ".join(sorted({e.host for e in result.rollbacks}))))
    if result.status in ("stopped", "killed"):
        lines.append(lab[result.status])
    rules = gated_by(result.action)
    shown = [r for r in result.rule_changes() if r.rule_id in rules]
    if shown:
        lines.append(lab["verdicts_check"] if result.check else lab["verdicts"])
        for r in sorted(shown, key=lambda r: (r.portal, rules.index(r.rule_id))):
            arrow = f"{r.before or '-'}" if result.check else f"{r.before or '-'} -> {r.after or '-'}"
            lines.append(f"  {r.portal} {r.rule_id}: {arrow}")
            for v in result.verdicts:  # why it does not pass, per address
                latest = v.before if result.check else v.after
                if (v.portal, v.rule_id) == (r.portal, r.rule_id) and latest not in (None, "pass"):
                    subject = f"[{v.subject}] " if v.subject else ""
                    lines.append(f"      {subject}{latest}: {v.message_vi if lang == 'vi' else v.message}")
    lines.append(f"{lab['exit']} {result.exit_code()}")
    return "\n".join(lines) + "\n"


def ds_exports(hosts: dict[str, dict[str, Any]], inventory: str) -> dict[str, Path]:
    """Zone -> the DS file the dnssec role writes for it (dnssec_ds_dir/ZONE.ds on the controller), for the
    hosts' dnssec_zones. The role's default dir ({{ inventory_dir }}/ds) and {{ inventory_dir }} are resolved; other
    templates skipped."""
    out: dict[str, Path] = {}
    for variables in hosts.values():
        zones = [z.get("name") for z in variables.get("dnssec_zones") or [] if isinstance(z, dict)]
        raw = str(variables.get("dnssec_ds_dir") or "{{ inventory_dir }}/ds")
        raw = raw.replace("{{ inventory_dir }}", str(Path(inventory).resolve().parent))
        raw = raw.replace("{{ playbook_dir }}", str(PLAYBOOK_DIR))
        if "{{" in raw:
            continue
        for zone in zones:
            if zone:
                out[str(zone).rstrip(".")] = Path(raw) / f"{str(zone).rstrip('.')}.ds"
    return out


# --- helpers of `netready remediate` (kept out of cli.py, which only parses) ---------------------------------


def zones_of(hosts: dict[str, dict], failed: set[str]) -> set[str]:  # type: ignore[type-arg]
    """The zones (dnssec_zones) of the hosts that did not fail."""
    return {str(z.get("name", "")).rstrip(".") for h, v in hosts.items() if h not in failed
            for z in v.get("dnssec_zones") or [] if isinstance(z, dict)}


def ds_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if " DS " in f" {line} "]


def check_lab_inventory(inventory: str, hosts: dict[str, dict]) -> None:  # type: ignore[type-arg]
    """--lab: the lab's machines must run, and the inventory's lab files (CA, work dir) must be this lab's."""
    from netready.lab import machines as mach
    from netready.lab.machines.inventory import lab_state_dir

    if not mach.machines():
        raise RemediationError("the lab machines are not running: netready lab up --machines")
    mine = f"{lab_state_dir()}/"
    for variables in hosts.values():
        for key in ("tls_ca_cert", "tls_ca_bundle", "tls_csr_dir", "dnssec_ds_dir"):
            value = str(variables.get(key) or "")
            if value.startswith("/run/netready/") and not value.startswith(mine):
                raise RemediationError(f"{inventory} is for another lab ({key}: {value}); the inventory for this lab "
                                 f"is written by `python -m netready.lab.machines inventory` "
                                 f"(or `netready lab up --machines`): {mach.lab_inventory_path()}")


# --- `netready remediate`: the command's flow (cli.py only parses options and prints) -----------------------

REGISTRAR = {
    "en": "Send these DS records to your domain registrar for the parent .vn zone (the zone is signed and serves "
          "its DNSKEY); keep any old DS until the new one is live:",
    "vi": "Gửi các bản ghi DS này cho nhà đăng ký tên miền để đưa lên vùng cha .vn (vùng đã ký và trả lời DNSKEY); "
          "giữ bản ghi DS cũ (nếu có) đến khi bản mới có hiệu lực:",
}
SUBMITTED = {"en": "registrar step (lab): DS handed to the lab's gov.vn",
             "vi": "bước nhà đăng ký (lab): đã đưa DS lên gov.vn của lab"}


@dataclass
class CommandPlan:
    """What a `netready remediate` run will touch, known before anything runs (bad input fails here)."""

    action: Action
    inventory: str
    limit: str | None
    lab: bool
    profile: str
    hosts: dict[str, dict[str, Any]]
    portals: list[str]
    ds_files: dict[str, Path]  # zone -> the DS file the dnssec role writes (dnssec and all only)


@dataclass
class CommandRun:
    plan: CommandPlan
    result: RemediationResult
    exported: dict[str, list[str]]  # zone -> DS lines the run wrote (real runs of hosts that did not fail)
    submitted: dict[str, list[str]]  # zone -> DS lines handed to the lab's parent (--lab)

    def to_dict(self, seconds: float) -> dict[str, Any]:
        return self.result.to_dict() | {"ds_exported": self.exported, "ds_submitted": self.submitted,
                                        "seconds": round(seconds, 1)}

    def text(self, lang: str = "en") -> str:
        """The summary, then the DS records a person must still send to the registrar."""
        out = format_summary(self.result, lang)
        manual = {z: v for z, v in self.exported.items() if z not in self.submitted}
        if manual:
            out += REGISTRAR.get(lang, REGISTRAR["en"]) + "\n" + "".join(f"  {line}\n" for v in manual.values()
                                                                          for line in v)
            out += "".join(f"  ({self.plan.ds_files[z]})\n" for z in manual)
        return out


def plan_command(action: Action, inventory: str, limit: str | None = None, lab: bool = False,
                 profile: str | None = None) -> CommandPlan:
    """The hosts, portals and DS files of a run; raises RemediationError (or the profile's or lab's error) on bad
    input, before any playbook or probe runs."""
    from netready.errors import UsageError
    from netready.profiles import load_profile

    prof = profile or ("lab" if lab else "circular32")
    load_profile(prof)  # a bad profile is a usage error now, not after the playbook ran
    hosts = inventory_hosts(inventory, limit)
    if not hosts:
        raise UsageError(f"no host of {inventory} matches{f' --limit {limit}' if limit else ''}")
    if lab:
        check_lab_inventory(inventory, hosts)
    portals = affected_portals(inventory, limit, hosts)
    ds_files = ds_exports(hosts, inventory) if action in ("dnssec", "all") else {}
    return CommandPlan(action, inventory, limit, lab, prof, hosts, portals, ds_files)


def run_command(plan: CommandPlan, settings: ProbeSettings, check: bool = False,
                on_event: Callable[[TaskEvent], None] | None = None, on_stop: Callable[[Stop], None] | None = None,
                say: Callable[[str], None] = lambda _line: None, lang: str = "en", timeout: int | None = None,
                vault_password_file: str | None = None) -> CommandRun:
    """Probe, run the playbook, hand the exported DS to the lab's parent (--lab: the registrar's step), probe
    again. say(line) tells a person what happens between the steps."""
    events: list[TaskEvent] = []
    submitted: dict[str, list[str]] = {}

    def record(e: TaskEvent) -> None:
        events.append(e)
        if on_event:
            on_event(e)

    def between() -> None:
        if plan.lab and plan.ds_files:
            from netready.lab.machines import submit_exported_ds

            zones = zones_of(plan.hosts, {e.host for e in events if e.status in ("failed", "unreachable")})
            for d in sorted({p.parent for z, p in plan.ds_files.items() if z in zones}):
                submitted.update(submit_exported_ds(d, zones=sorted(zones)))
            for zone, lines in submitted.items():
                say(f"{SUBMITTED.get(lang, SUBMITTED['en'])}: {zone} ({len(lines)} DS)")
        if plan.portals:
            say(f"probing {len(plan.portals)} portal(s) again: {', '.join(plan.portals)}")

    if plan.portals:
        say(f"probing {len(plan.portals)} portal(s) before the run: {', '.join(plan.portals)}")
    say(f"running {PLAYBOOKS[plan.action]}{' --check' if check else ''} on {', '.join(plan.hosts)}")
    result = remediate(plan.action, plan.inventory, check=check, limit=plan.limit, settings=settings,
                       portals=plan.portals, on_event=record, profile=plan.profile, between=between, timeout=timeout,
                       vault_password_file=vault_password_file, on_stop=on_stop)
    ok_zones = zones_of(plan.hosts, set(result.failed_hosts))  # a failed host's file may be an old one
    exported = {z: ds_lines(p) for z, p in plan.ds_files.items() if not check and z in ok_zones and p.is_file()}
    return CommandRun(plan, result, {z: lines for z, lines in exported.items() if lines}, submitted)
