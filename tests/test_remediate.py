"""remediate.py glue and the roles' helpers, on the controller only (no lab machines): real
ansible-runner runs against local hosts, real nginx/named/knotc checks on candidate files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from netready import remediate as R
from netready.model import Finding, Report

ROOT = Path(__file__).resolve().parent.parent
COMMON = ROOT / "playbooks/roles/netready_common/files"
ROLES = ROOT / "playbooks/roles"


def _report(*findings: Finding) -> Report:
    return Report(tool_version="t", started="s", finished="f", profile="lab", findings=list(findings))


def _f(rule: str, verdict: str, subject: str | None = None, level: str = "required") -> Finding:
    return Finding(rule, "dichvucong.x.gov.vn", verdict, level, {"en": f"{rule} {verdict}", "vi": "x"}, subject)


# --- a real ansible-runner run on local hosts -------------------------------------------------------------

LOCAL_PLAY = """
- name: Local test play
  hosts: all
  gather_facts: false
  tasks:
    - name: Always ok
      ansible.builtin.command: "true"
      changed_when: false
    - name: Changes on h1 only
      ansible.builtin.command: "true"
      changed_when: inventory_hostname == 'h1'
    - name: Fails on h2 only
      ansible.builtin.fail:
        msg: "broken input on {{ inventory_hostname }}"
      when: inventory_hostname == 'h2'
    - name: Secret never shown
      ansible.builtin.command: "echo topsecret"
      no_log: true
      changed_when: false
"""


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("local")
    (d / "play.yml").write_text(LOCAL_PLAY)
    inv = d / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inv.write_text(yaml.safe_dump({"all": {"children": {"web": {"hosts": {
        "h1": local | {"netready_portals": ["dichvucong.a.gov.vn", "dichvucong.b.gov.vn"]},
        "h2": local | {"netready_portals": "dichvucong.b.gov.vn"}}}}}}))
    seen: list[R.TaskEvent] = []
    out = R.run_playbook(str(d / "play.yml"), str(inv), on_event=seen.append)
    return inv, out, seen


def test_run_playbook_summarises_hosts_and_streams_events(local_run):
    _inv, (status, rc, hosts, events, stdout), seen = local_run
    assert status == "failed" and rc != 0
    assert hosts["h1"].changed == 1 and hosts["h1"].failed == 0 and hosts["h1"].status == "changed"
    assert hosts["h2"].failed == 1 and hosts["h2"].status == "failed"
    assert seen == events  # the callback saw every event as it came
    fail = [e for e in events if e.status == "failed"]
    assert [(e.host, e.task) for e in fail] == [("h2", "Fails on h2 only")]
    assert "broken input on h2" in fail[0].message
    assert {e.status for e in events if e.host == "h1"} == {"ok", "changed", "skipped"}
    assert "PLAY RECAP" in stdout and "Secret never shown" in stdout  # the log is there...
    assert "topsecret" not in stdout and all("topsecret" not in e.message for e in events)  # ...without the secret


def test_check_mode_runs_with_check_flag(tmp_path):
    (tmp_path / "p.yml").write_text("""
- name: Check mode probe
  hosts: all
  gather_facts: false
  tasks:
    - name: Write a file
      ansible.builtin.copy:
        content: "x"
        dest: "{{ target }}"
        mode: "0644"
""")
    (tmp_path / "h.yml").write_text(yaml.safe_dump({"all": {"hosts": {"h1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "target": str(tmp_path / "written")}}}}))
    status, rc, hosts, _events, _ = R.run_playbook(str(tmp_path / "p.yml"), str(tmp_path / "h.yml"), check=True)
    assert status == "successful" and rc == 0 and hosts["h1"].changed == 1
    assert not (tmp_path / "written").exists()  # --check reported the change and made none


def test_inventory_portals_and_limit(local_run):
    inv = str(local_run[0])
    assert R.portals_of(R.inventory_hosts(inv)) == ["dichvucong.a.gov.vn", "dichvucong.b.gov.vn"]
    assert R.portals_of(R.inventory_hosts(inv, limit="h2")) == ["dichvucong.b.gov.vn"]
    assert set(R.inventory_hosts(inv, pattern="web")) == {"h1", "h2"}


def test_affected_portals_include_the_signed_zones_portals(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {
        "web": {"hosts": {"w1": {"netready_portals": ["dichvucong.a.gov.vn", "www.b.gov.vn"]}}},
        "dns": {"hosts": {"ns1": {"dnssec_zones": [{"name": "b.gov.vn."}]}}}}}}))
    assert R.affected_portals(str(inv), limit="ns1") == ["www.b.gov.vn"]
    assert R.affected_portals(str(inv)) == ["dichvucong.a.gov.vn", "www.b.gov.vn"]
    assert R.affected_portals(str(inv), limit="w1") == ["dichvucong.a.gov.vn", "www.b.gov.vn"]


def test_remediate_refuses_bad_input(tmp_path):
    with pytest.raises(R.RemediationError, match="unknown action"):
        R.remediate("firewall", str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(R.RemediationError, match="does not exist"):
        R.remediate("tls", str(tmp_path / "nope.yml"))
    (tmp_path / "bad.yml").write_text("all: [unclosed\n")
    with pytest.raises(R.RemediationError, match="cannot read inventory"):
        R.inventory_hosts(str(tmp_path / "bad.yml"))


# --- verdict pairing and exit codes ---------------------------------------------------------------------------

def _result(before, after, check=False, failed=0, status="successful", action="tls") -> R.RemediationResult:
    return R.RemediationResult(action=action, playbook="p", inventory="i", check=check, limit=None, status=status,
                               rc=0 if status == "successful" else 2,
                               hosts={"web1": R.HostSummary(ok=3, failed=failed)},
                               before=before, after=after, verdicts=R.compare(before, after))


def test_compare_pairs_findings_by_rule_and_subject():
    before = _report(_f("VN-TLS-CA", "fail", "198.51.100.200"), _f("VN-DNSSEC", "fail"))
    after = _report(_f("VN-TLS-CA", "pass", "198.51.100.200"), _f("VN-TLS-CA", "pass", "2001:db8:300::200"))
    rows = {(v.rule_id, v.subject): (v.before, v.after) for v in R.compare(before, after)}
    assert rows == {("VN-TLS-CA", "198.51.100.200"): ("fail", "pass"), ("VN-DNSSEC", None): ("fail", None),
                    ("VN-TLS-CA", "2001:db8:300::200"): (None, "pass")}


def test_exit_codes():
    fixed = _result(_report(_f("VN-TLS-CA", "fail")), _report(_f("VN-TLS-CA", "pass")))
    assert fixed.exit_code() == R.EXIT_OK
    still = _result(_report(_f("VN-TLS-CA", "fail")), _report(_f("VN-TLS-CA", "error")))
    assert still.exit_code() == R.EXIT_STILL_FAILING and [v.rule_id for v in still.still_failing()] == ["VN-TLS-CA"]
    # a rule the action does not touch, or a recommended one, does not fail the run
    other = _result(None, _report(_f("VN-DNSSEC", "fail"), _f("VN-TLS-CA", "pass"),
                                  _f("VN-TLS12", "warn", level="recommended")))
    assert other.exit_code() == R.EXIT_OK
    assert _result(None, None, failed=1).exit_code() == R.EXIT_HOST_FAILED
    assert _result(None, None, status="failed").exit_code() == R.EXIT_HOST_FAILED
    # check mode: nothing changes, so a required rule failing now means a real run is needed
    assert _result(_report(_f("VN-TLS-CA", "fail")), None, check=True).exit_code() == R.EXIT_STILL_FAILING
    assert _result(_report(_f("VN-TLS-CA", "pass")), None, check=True).exit_code() == R.EXIT_OK
    assert _result(_report(_f("VN-TLS-CA", "fail")), None, check=True, failed=1).exit_code() == R.EXIT_HOST_FAILED
    text = R.format_summary(still)
    assert "VN-TLS-CA: fail -> error" in text and "exit code 2" in text


# --- the roles' helpers on the controller's own nginx / BIND / Knot ------------------------------------------

def _check(kind: str, candidate: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(COMMON / "netready-config-check"), kind, str(candidate), target],
                          capture_output=True, text=True, timeout=60)


def test_config_check_accepts_good_and_refuses_broken_nginx(tmp_path):
    good = tmp_path / "good.conf"
    good.write_text("server { listen 8081; listen [::]:8081; server_name t.example; return 204; }\n")
    assert _check("nginx", good, "/etc/nginx/conf.d/netready-test.conf").returncode == 0
    bad = tmp_path / "bad.conf"
    bad.write_text("server { listen 8081; ssl_certificate /nonexistent/cert.pem; ssl_certificate_key /x;"
                   " listen 8443 ssl; }\n")
    res = _check("nginx", bad, "/etc/nginx/conf.d/netready-test.conf")
    assert res.returncode != 0 and "/nonexistent/cert.pem" in res.stderr
    assert not Path("/etc/nginx/conf.d/netready-test.conf").exists()  # the live tree was never touched


def _config_check_module():
    """The helper script as a module (it has no .py name), for its functions."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("config_check", str(COMMON / "netready-config-check"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("config_check", loader))
    loader.exec_module(module)
    return module


def test_config_check_copies_the_targets_of_relative_symlinks_and_leaves_out_dangling_ones(tmp_path, monkeypatch):
    """Debian's a2enmod/a2ensite link mods-enabled/ and sites-enabled/ relatively (../mods-available/x.load):
    the checked copy must hold what they point to, whatever the current directory is (copytree's own
    ignore_dangling_symlinks dropped them all, and every Apache check failed with "No MPM loaded")."""
    check = _config_check_module()
    src = tmp_path / "apache2"
    (src / "mods-available").mkdir(parents=True)
    (src / "mods-enabled").mkdir()
    (src / "mods-available" / "mpm_event.load").write_text("LoadModule mpm_event_module x.so\n")
    (src / "mods-enabled" / "mpm_event.load").symlink_to("../mods-available/mpm_event.load")
    (src / "mods-enabled" / "gone.load").symlink_to("../mods-available/gone.load")  # dangling
    (src / "sites").symlink_to("mods-available", target_is_directory=True)  # a relative link to a directory
    monkeypatch.chdir("/")
    check.copy_config(str(src), str(tmp_path / "copy"))
    copied = tmp_path / "copy"
    assert (copied / "mods-enabled" / "mpm_event.load").read_text() == "LoadModule mpm_event_module x.so\n"
    assert not (copied / "mods-enabled" / "mpm_event.load").is_symlink()
    assert not (copied / "mods-enabled" / "gone.load").exists()
    assert (copied / "sites" / "mpm_event.load").is_file()


def test_config_check_copy_leaves_out_link_loops_and_special_files(tmp_path):
    import os

    check = _config_check_module()
    src = tmp_path / "nginx"
    (src / "conf.d").mkdir(parents=True)
    (src / "conf.d" / "a.conf").write_text("a\n")
    (src / "conf.d" / "up").symlink_to("..", target_is_directory=True)  # a loop
    (src / "self").symlink_to(".", target_is_directory=True)
    os.mkfifo(src / "conf.d" / "fifo")
    check.copy_config(str(src), str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "conf.d" / "a.conf").read_text() == "a\n"
    assert not (tmp_path / "copy" / "conf.d" / "up").exists() and not (tmp_path / "copy" / "self").exists()
    assert not (tmp_path / "copy" / "conf.d" / "fifo").exists()


def test_config_check_puts_the_candidate_wherever_the_tree_links_to_the_target(tmp_path):
    """nginx reads sites-enabled/default, a link to sites-available/default (the role's target): a copy that
    held the candidate only at the target's place checked the old site."""
    check = _config_check_module()
    src = tmp_path / "nginx"
    (src / "sites-available").mkdir(parents=True)
    (src / "sites-enabled").mkdir()
    (src / "sites-available" / "default").write_text("old\n")
    (src / "sites-enabled" / "default").symlink_to(src / "sites-available" / "default")  # absolute, as Debian's
    (src / "sites-enabled" / "again").symlink_to("../sites-available/default")  # relative, as a2ensite's
    (src / "sites-available" / "other").write_text("other\n")
    candidate = tmp_path / "candidate"
    candidate.write_text("new\n")
    root = tmp_path / "copy"
    check.copy_config(str(src), str(root))
    written = check.place_candidate(str(src), str(root), str(candidate), str(src / "sites-available" / "default"))
    assert len(written) == 3
    for rel in ("sites-available/default", "sites-enabled/default", "sites-enabled/again"):
        assert (root / rel).read_text() == "new\n", rel
    assert (root / "sites-available" / "other").read_text() == "other\n"
    assert (src / "sites-available" / "default").read_text() == "old\n"  # the live tree untouched


def test_config_check_refuses_a_broken_candidate_for_the_linked_default_site_of_nginx(tmp_path):
    target = Path("/etc/nginx/sites-available/default")
    assert Path("/etc/nginx/sites-enabled/default").resolve() == target  # Debian's nginx package, as on web1
    before = target.read_text()
    bad = tmp_path / "default"
    bad.write_text(before.replace("server {", "server {\n\tthis_is_no_directive on;", 1))
    assert bad.read_text() != before
    res = _check("nginx", bad, str(target))
    assert res.returncode != 0 and "this_is_no_directive" in res.stderr
    good = tmp_path / "good"
    good.write_text(before)
    assert _check("nginx", good, str(target)).returncode == 0
    assert target.read_text() == before


def test_config_check_bind_policy_and_knot(tmp_path):
    # The role's own defaults (the rollover timings among them), then what this test sets.
    defaults = yaml.safe_load((ROLES / "dnssec/defaults/main.yml").read_text(encoding="utf-8"))
    env = defaults | {"dnssec_policy_name": "netready", "dnssec_algorithm": "ecdsap256sha256", "dnssec_nsec3": True,
                      "dnssec_nsec3_iterations": 0, "dnssec_nsec3_salt_length": 0, "dnssec_signature_validity": "14d",
                      "dnssec_signature_refresh": "5d", "ansible_managed": "test"}
    tpl = jinja2.Template((ROLES / "dnssec/templates/named.conf.netready-dnssec.j2").read_text())
    pol = tmp_path / "policy.conf"
    pol.write_text(tpl.render(**env))
    assert "nsec3param iterations 0 optout no salt-length 0;" in pol.read_text()
    assert _check("bind", pol, "/etc/bind/named.conf.netready-dnssec").returncode == 0
    pol.write_text(tpl.render(**(env | {"dnssec_algorithm": "nosuchalgo"})))
    assert _check("bind", pol, "/etc/bind/named.conf.netready-dnssec").returncode != 0
    knot = tmp_path / "knot.conf"
    knot.write_text("policy:\n  - id: p\n    algorithm: ecdsap256sha256\n    nsec3-iterations: 0\n"
                    "zone:\n  - domain: t.gov.vn\n    dnssec-signing: on\n    dnssec-policy: p\n")
    assert subprocess.run(["knotc", "-c", str(knot), "conf-check"], capture_output=True).returncode == 0
    knot.write_text(knot.read_text().replace("dnssec-policy: p", "dnssec-policy: missing"))
    assert subprocess.run(["knotc", "-c", str(knot), "conf-check"], capture_output=True).returncode != 0


def _rollback_order(role_tasks: str, registered: dict) -> dict[str, str]:
    """What each file holds after the rescue task "Roll back the edited files from their backups" of a tasks
    file copies the backups back in its loop's order, given the registered results of the edits."""
    tasks = yaml.safe_load((ROLES / role_tasks).read_text(encoding="utf-8"))
    rescue = next(t for t in tasks if "rescue" in t)["rescue"]
    copy = next(t for t in rescue if t["name"] == "Roll back the edited files from their backups")
    expression = copy["loop"].strip().removeprefix("{{").removesuffix("}}")
    env = jinja2.Environment()
    env.filters["default"] = lambda v, d=None, b=False: d if v is None or isinstance(v, jinja2.Undefined) else v
    items = env.compile_expression(expression)(**registered)
    files: dict[str, str] = {}
    for item in items:
        files[item.get("dest") or item["path"]] = item["backup_file"]
    return files


def test_a_rollback_puts_back_each_file_as_it_was_before_the_run_not_after_its_first_edit():
    """One backup per edit: the zone statements of two zones are two edits of the same file, and the second
    backup already holds the first zone's edit; only the first backup is the file before the run."""
    two_zone_edits = {"results": [{"changed": True, "path": "/etc/conf", "backup_file": "/etc/conf.before-run~"},
                                  {"changed": True, "path": "/etc/conf", "backup_file": "/etc/conf.after-zone-1~"}]}
    bind = _rollback_order("dnssec/tasks/bind.yml", {
        "dnssec_bind_zone_files": {"results": []}, "dnssec_bind_policy": {"changed": True},
        "dnssec_bind_include": {"changed": True, "path": "/etc/bind/named.conf", "backup_file": "/etc/bind/nc~"},
        "dnssec_bind_zone_stmt": two_zone_edits})
    assert bind == {"/etc/conf": "/etc/conf.before-run~", "/etc/bind/named.conf": "/etc/bind/nc~"}
    # Knot: the policy and each zone's signing lines are edits of knot.conf
    knot = _rollback_order("dnssec/tasks/knot.yml", {
        "dnssec_knot_zone_files": {"results": []},
        "dnssec_knot_policy": {"changed": True, "path": "/etc/conf", "backup_file": "/etc/conf.before-run~"},
        "dnssec_knot_zone_stmt": {"results": [{"changed": True, "path": "/etc/conf", "backup_file": "/etc/conf.1~"},
                                              {"changed": True, "path": "/etc/conf", "backup_file": "/etc/conf.2~"}]}})
    assert knot == {"/etc/conf": "/etc/conf.before-run~"}


def test_zone_serial_helper(tmp_path):
    z = tmp_path / "db"
    z.write_text("$TTL 300\n@ IN SOA ns1.t.gov.vn. h.t.gov.vn. ( ; comment\n  2099010101 ; serial\n"
                 " 3600 600 86400 300 )\n@ NS ns1\n")
    out = subprocess.run([sys.executable, str(COMMON / "netready-zone-serial"), str(z)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "2099010102"
    assert "2099010102 ; serial" in z.read_text() and z.read_text().endswith("@ NS ns1\n")
    z.write_text("@ SOA ns1 h 5 3600 600 86400 300\n")
    subprocess.run([sys.executable, str(COMMON / "netready-zone-serial"), str(z)], check=True, capture_output=True)
    assert int(z.read_text().split()[4]) >= 2024010100


def test_network_templates_parse(tmp_path):
    """netplan and NetworkManager files are not exercised by the (Debian) lab: at least they must parse."""
    import configparser

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True)
    v = {"ansible_managed": "test", "dual_stack_interface": "eth0", "dual_stack_ipv6_address": "2001:db8:1::10/64",
         "dual_stack_ipv6_gateway": "2001:db8:1::1",
         "ansible_facts": {"default_ipv4": {"address": "198.51.100.10", "prefix": "24", "gateway": "198.51.100.1"}}}
    netplan_tpl = (ROLES / "dual_stack/templates/netplan-ipv6.yaml.j2").read_text()
    netplan = yaml.safe_load(env.from_string(netplan_tpl).render(**v))
    eth = netplan["network"]["ethernets"]["eth0"]
    assert eth["addresses"] == ["2001:db8:1::10/64"] and eth["routes"][0] == {"to": "::/0", "via": "2001:db8:1::1"}
    cp = configparser.ConfigParser()
    cp.read_string(env.from_string((ROLES / "dual_stack/templates/networkmanager-ipv6.nmconnection.j2").read_text())
                   .render(**v))
    assert cp["ipv6"]["address1"] == "2001:db8:1::10/64,2001:db8:1::1" and cp["ipv6"]["method"] == "manual"
    assert cp["ipv4"]["address1"] == "198.51.100.10/24,198.51.100.1"
    ifup = env.from_string((ROLES / "dual_stack/templates/ifupdown-ipv6.j2").read_text()).render(**v)
    # ifquery parses it on the lab machines (validate: of the template); here the stanza's shape only.
    assert "iface eth0 inet6 static\n    address 2001:db8:1::10/64\n    gateway 2001:db8:1::1\n" in ifup


def test_rule_changes_fold_subjects():
    """Judged once before (no AAAA), per address after: one row per rule, worst over the subjects."""
    before = _report(_f("VN-IPV6-WEB", "fail"), _f("VN-TLS-CA", "fail", "198.51.100.200"))
    after = _report(_f("VN-IPV6-WEB", "pass", "2001:db8:300::200"), _f("VN-TLS-CA", "pass", "198.51.100.200"),
                    _f("VN-TLS-CA", "warn", "2001:db8:300::200"))
    r = _result(before, after, action="all")
    assert {(c.rule_id, c.before, c.after) for c in r.rule_changes()} == {
        ("VN-IPV6-WEB", "fail", "pass"), ("VN-TLS-CA", "fail", "warn")}
    assert r.to_dict()["rules"][0]["portal"] == "dichvucong.x.gov.vn"
    text = R.format_summary(r, "vi")
    assert "dichvucong.x.gov.vn VN-IPV6-WEB: fail -> pass" in text and "kết quả (trước -> sau):" in text
    assert "[2001:db8:300::200] warn: x" in text  # why it does not pass, per address, in the language asked


def test_ds_exports_resolve_the_dir(tmp_path):
    inv = str(tmp_path / "hosts.yml")
    hosts = {"ns1": {"dnssec_zones": [{"name": "a.gov.vn."}], "dnssec_ds_dir": "{{ inventory_dir }}/ds"},
             "ns2": {"dnssec_zones": [{"name": "b.gov.vn"}]},
             "ns3": {"dnssec_zones": [{"name": "c.gov.vn"}], "dnssec_ds_dir": "{{ lookup('env', 'X') }}"},
             "web": {"netready_portals": ["x"]}}
    assert R.ds_exports(hosts, inv) == {"a.gov.vn": tmp_path / "ds/a.gov.vn.ds",
                                        "b.gov.vn": tmp_path / "ds/b.gov.vn.ds"}  # the role's default


NETREADY = str(Path(sys.executable).parent / "netready")


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([NETREADY, "remediate", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **env))


def test_cli_remediate_usage_errors_exit_3(tmp_path, local_run):
    r = _cli("all", "-i", str(tmp_path / "none.yml"))
    assert r.returncode == 3 and "cannot read inventory" in r.stderr, r.stderr
    assert _cli("firewall", "-i", str(local_run[0])).returncode == 3
    assert _cli("all").returncode == 3  # -i is required
    r = _cli("tls", "-i", str(local_run[0]), "--limit", "nohost")
    assert r.returncode == 3 and "matches --limit nohost" in r.stderr, r.stderr
    r = _cli("tls", "-i", str(local_run[0]), "--profile", "nosuchprofile")
    assert r.returncode == 3, r.stderr
    r = _cli("tls", "-i", str(local_run[0]), "--lab", NETREADY_LAB_NAME="notuplab", NETREADY_LAB_DIR="")
    assert r.returncode == 3 and "netready lab up --machines" in r.stderr, r.stderr
