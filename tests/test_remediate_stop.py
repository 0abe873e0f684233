"""`remediate` has a timeout and survives Ctrl-C without leaving half a change (issue #15, item 3): the run is
asked to stop, the play that runs finishes (its changes, its handlers), the next play never starts. A second
Ctrl-C kills it. Real ansible-runner runs on the local host; the stop check is the one every netready play
starts with (playbooks/*.yml pre_tasks)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from netready import remediate as R

ROOT = Path(__file__).resolve().parent.parent
STOP_TASK = yaml.safe_load((ROOT / "playbooks/tls_certificates.yml").read_text())[1]["pre_tasks"]

PLAY = """
- name: First change
  hosts: all
  gather_facts: false
  pre_tasks: {stop}
  tasks:
    - name: Slow step of the first change
      ansible.builtin.shell: "touch {{{{ out }}}}/started && sleep 4"
      changed_when: true
      notify: Finish the first change
    - name: Write the first change
      ansible.builtin.copy:
        content: "1"
        dest: "{{{{ out }}}}/first"
        mode: "0644"
  handlers:
    - name: Finish the first change
      ansible.builtin.copy:
        content: "reloaded"
        dest: "{{{{ out }}}}/first-handler"
        mode: "0644"

- name: Second change
  hosts: all
  gather_facts: false
  pre_tasks: {stop}
  tasks:
    - name: Write the second change
      ansible.builtin.copy:
        content: "2"
        dest: "{{{{ out }}}}/second"
        mode: "0644"
"""


def _setup(tmp_path: Path) -> tuple[str, str]:
    import json

    (tmp_path / "play.yml").write_text(PLAY.format(stop=json.dumps(STOP_TASK)))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"h1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "out": str(tmp_path)}}}}))
    return str(tmp_path / "play.yml"), str(tmp_path / "hosts.yml")


def test_every_netready_play_starts_with_the_stop_check():
    for name in ("dual_stack.yml", "dnssec_sign.yml", "tls_certificates.yml"):
        plays = [p for p in yaml.safe_load((ROOT / "playbooks" / name).read_text()) if "hosts" in p]
        assert plays and all(p.get("pre_tasks") == STOP_TASK for p in plays), name


def test_timeout_stops_at_the_next_play_and_leaves_no_half_change(tmp_path):
    play, inv = _setup(tmp_path)
    t0 = time.monotonic()
    status, rc, hosts, events, _ = R.run_playbook(play, inv, timeout=4)
    assert status == "stopped" and rc != 0
    # the first play either ran whole (changes and handler) or, on a slow start, not at all; never the second
    done = [(tmp_path / f).exists() for f in ("started", "first", "first-handler")]
    assert done in ([True, True, True], [False, False, False]), done
    assert not (tmp_path / "second").exists()
    assert time.monotonic() - t0 < 60


def _wait_for(path: Path, limit: float = 60) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert time.monotonic() - t0 < limit, f"{path} never appeared"
        time.sleep(0.05)


SCRIPT = """
import sys
from netready import remediate as R
seen = []
status, rc, hosts, events, _ = R.run_playbook(sys.argv[1], sys.argv[2], on_stop=lambda s: print("STOP", s.reason,
                                              flush=True))
print("STATUS", status, flush=True)
"""


def test_ctrl_c_finishes_the_running_play_and_starts_no_other(tmp_path):
    play, inv = _setup(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, play, inv], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    _wait_for(tmp_path / "started")  # inside the slow step of the first play
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert "STOP Ctrl-C" in out and "STATUS stopped" in out, out
    assert (tmp_path / "first").read_text() == "1" and (tmp_path / "first-handler").read_text() == "reloaded"
    assert not (tmp_path / "second").exists()


def test_second_ctrl_c_kills_the_run(tmp_path):
    play, inv = _setup(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, play, inv], stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    _wait_for(tmp_path / "started")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert "STATUS killed" in out, out
    assert not (tmp_path / "second").exists() and not (tmp_path / "first-handler").exists()
    assert proc.returncode == 0
