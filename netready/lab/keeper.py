"""Parent and reaper of every lab process (stand-alone script, no package imports).

PID 1 on these machines does not reap orphans, so daemons started directly by a short-lived CLI would
become zombies when stopped. Instead the lab starts this keeper once; it spawns each holder/daemon on
request (one JSON line in, one JSON line out on stdin/stdout), then, when its stdin closes, waits for
its children until none is left and exits. Usage: python keeper.py <state-dir>
"""

import ctypes
import json
import os
import subprocess
import sys


def main() -> None:
    try:  # PR_SET_CHILD_SUBREAPER: also adopt grandchildren a daemon might leave behind
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    except Exception:
        pass
    for line in sys.stdin:
        req = json.loads(line)
        try:
            log = open(req["log"], "ab")
            proc = subprocess.Popen(
                req["argv"],
                cwd=req.get("cwd") or None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
            log.close()
            reply = {"pid": proc.pid}
        except Exception as exc:  # the lab turns this into a LabError
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    sys.stdout.close()
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return
        except InterruptedError:
            continue


if __name__ == "__main__":
    main()
