"""Headless Chromium driven over the DevTools protocol on a pipe: one browser per process, reused.

Why the DevTools protocol on a pipe and not Playwright or Selenium: it needs no extra process (Playwright
adds a Node.js driver, Selenium a chromedriver), no port, and no package; Chromium quits by itself when the
pipe closes, so even a killed netready leaves no browser behind. What the IPv6-only check needs from the
browser is small: a fresh browser context per page check with its own proxy (Target.createBrowserContext
proxyServer: concurrent checks never see each other's requests), the Network events (each request's URL,
kind, frame, redirects, failures) and one DOM read (forms and links).

Chromium is started headless with --no-sandbox --disable-gpu --disable-quic --no-first-run
--disable-background-networking --disable-component-update --disable-sync, a new empty --user-data-dir, a
proxy that refuses everything for the default context and --host-resolver-rules that make every name
lookup of its own fail: it can never resolve a name or reach a host except through netready's proxy. It is
started with no URL and the pages it opens by itself are closed: only the checks' pages have a renderer.
Debian's chromium-headless-shell (the old headless mode, no browser UI: about half the memory) is used when
installed, else Debian's chromium; NETREADY_CHROMIUM names another binary.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",  # Debian chromium-headless-shell
    "/usr/lib/chromium/chromium",  # Debian chromium (the /usr/bin/chromium wrapper adds desktop flags)
)
NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-default-browser-check",
    "--no-pings",
    "--mute-audio",
    "--disable-dev-shm-usage",
    "--no-zygote",
    "--in-process-gpu",
    "--disable-software-rasterizer",
    "--renderer-process-limit=2",
    # Every frame in one renderer: all requests of a page show in its own Network events (no out-of-process
    # iframes to attach to).
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process,DnsOverHttps,AsyncDns,NetworkPrediction,"
    "Translate,OptimizationHints,MediaRouter,InterestFeedContentSuggestions,AutofillServerCommunication",
    "--enable-features=NetworkServiceInProcess2",
    "--dns-prefetch-disable",
    # Certificates are VN-TLS-CA's business; this check wants to know which hosts a page needs.
    "--ignore-certificate-errors",
    # The browser itself resolves nothing: every lookup of its own fails (the proxy is an IP literal).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    # The default context goes nowhere (port 9, discard, nothing listens): only per-check contexts get a proxy.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
)
START_TIMEOUT = 15.0
IDLE_SECONDS = 30.0  # a shared browser unused this long is stopped (the next check starts another)
MAX_PAGES = 4  # page checks at once in one browser: each is a renderer; more only costs memory and CPU


class BrowserError(RuntimeError):
    """Chromium could not be started, or it stopped answering."""


def find_chromium() -> str | None:
    """The Chromium binary to run: NETREADY_CHROMIUM, Debian's headless shell, Debian's chromium, or PATH."""
    env = os.environ.get("NETREADY_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


PROFILE_PREFIX = "netready-chromium-"


def _remove_stale_profiles() -> None:
    """Remove the empty profiles of browsers whose netready process is gone (a run that ended with os._exit,
    as `check` does on Ctrl-C, or was killed: Chromium itself quits with the pipe, its profile stays)."""
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        owner = name[len(PROFILE_PREFIX):].split("-", 1)[0]
        if not name.startswith(PROFILE_PREFIX) or not owner.isdigit() or int(owner) == os.getpid():
            continue
        if not os.path.exists(f"/proc/{owner}"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _high(fd: int) -> int:
    """Move a descriptor above 9 (close-on-exec), so dup2 onto 3 and 4 never meets itself."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


@dataclass
class Session:
    """One attached page: its DevTools session id and the event callback."""

    session_id: str
    target_id: str
    context_id: str
    on_event: Callable[[str, dict[str, Any]], None]


class Browser:
    """A headless Chromium process and its DevTools pipe. Thread-safe: calls from many threads."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError("no Chromium found (install Debian's chromium-headless-shell or chromium)")
        self.pid: int | None = None
        self.version = ""
        _remove_stale_profiles()
        self.user_data_dir = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
        self._to_browser = -1
        self._from_browser = -1
        self._next_id = 0
        self._pending: dict[int, Future] = {}
        self._sessions: dict[str, Session] = {}
        self._contexts: set[str] = set()  # browser contexts the checks made (pages elsewhere are the browser's)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dead: str | None = None
        self._reader: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_PAGES)
        self.busy = 0  # page checks holding a slot
        self.last_used = time.monotonic()
        self.started_ms = 0.0

    # ------------------------------------------------------------------ process

    def start(self) -> Browser:
        t0 = time.monotonic()
        r_in, w_in = os.pipe()  # netready writes, Chromium reads on fd 3
        r_out, w_out = os.pipe()  # Chromium writes on fd 4, netready reads
        r_in, w_out = _high(r_in), _high(w_out)
        log = os.open(os.path.join(self.user_data_dir, "chromium.log"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC,
                      0o600)
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        argv = [self.binary, *BASE_FLAGS, f"--user-data-dir={self.user_data_dir}"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.user_data_dir,
               "LANG": "C.UTF-8", "TMPDIR": self.user_data_dir}
        try:
            # posix_spawn: thread-safe (no preexec_fn), descriptors placed exactly on 3 and 4; its own session
            # so the whole process group can be stopped by the browser's pid.
            self.pid = os.posix_spawn(self.binary, argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2),
                (os.POSIX_SPAWN_DUP2, r_in, 3), (os.POSIX_SPAWN_DUP2, w_out, 4)])
        except OSError as exc:
            for fd in (r_in, w_in, r_out, w_out):
                os.close(fd)
            raise BrowserError(f"cannot start {self.binary}: {exc.strerror or exc}") from exc
        finally:
            os.close(log)
            os.close(null)
        os.close(r_in)
        os.close(w_out)
        self._to_browser, self._from_browser = w_in, r_out
        self._reader = threading.Thread(target=self._read_loop, name=f"chromium-{self.pid}", daemon=True)
        self._reader.start()
        _LIVE[self.pid] = self
        try:
            info = self.call("Browser.getVersion", timeout=START_TIMEOUT)
        except BrowserError as exc:
            self.stop()
            raise BrowserError(f"{exc}; log: {self.log_tail()}") from exc
        self.version = info.get("product", "")
        try:  # every target, existing and new, is announced (Target.targetCreated): see _browser_event
            self.call("Target.setDiscoverTargets", {"discover": True}, timeout=START_TIMEOUT)
        except BrowserError:
            pass  # a browser that cannot announce its tabs still serves checks (with more memory)
        self.started_ms = round((time.monotonic() - t0) * 1000, 1)
        global STARTS
        STARTS += 1
        return self

    def _browser_event(self, method: str, params: dict[str, Any]) -> None:
        """Close the pages the browser opens by itself, whenever they appear: started with no URL, the headless
        shell opens none, the full Chromium its New Tab page (announced a moment after it answers). Each would
        keep a renderer (60-90 MB PSS) beside every check and between checks; a check's page lives in the
        check's own browser context."""
        info = params.get("targetInfo", {})
        if (method == "Target.targetCreated" and info.get("type") == "page"
                and info.get("browserContextId") not in self._contexts):
            self.send("Target.closeTarget", {"targetId": info.get("targetId")})

    def log_tail(self, n: int = 3) -> str:
        try:
            with open(os.path.join(self.user_data_dir, "chromium.log"), encoding="utf-8", errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return "(no log)"
        return " | ".join(lines[-n:]) or "(empty log)"

    @property
    def alive(self) -> bool:
        return self._dead is None and self.pid is not None

    def stop(self) -> None:
        """Close the pipe (Chromium quits by itself), then stop its process group by the browser's pid."""
        pid, self.pid = self.pid, None
        self._fail_all("browser stopped")
        for fd in (self._to_browser,):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_browser = -1
        if pid is not None:
            _LIVE.pop(pid, None)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.02)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # helpers (renderers) of this browser only: its own group
        if self._reader is not None:
            self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self._from_browser)
        self._from_browser = -1
        shutil.rmtree(self.user_data_dir, ignore_errors=True)

    # ------------------------------------------------------------------ protocol

    def _fail_all(self, why: str) -> None:
        with self._lock:
            if self._dead is None:
                self._dead = why
            pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(BrowserError(why))

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._fail_all("Chromium closed the DevTools pipe (it exited or crashed)")
                return
            buf += chunk
            while (i := buf.find(b"\0")) >= 0:
                raw, buf = buf[:i], buf[i + 1 :]
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                self._dispatch(msg)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "id" in msg:
            with self._lock:
                fut = self._pending.pop(msg["id"], None)
            if fut is not None and not fut.done():
                if "error" in msg:
                    fut.set_exception(BrowserError(f"{msg['error'].get('message')} ({msg['error'].get('code')})"))
                else:
                    fut.set_result(msg.get("result", {}))
            return
        if "sessionId" not in msg:
            try:
                self._browser_event(msg.get("method", ""), msg.get("params", {}))
            except Exception:  # noqa: BLE001 - as below: the reader of every page must go on
                pass
            return
        session = self._sessions.get(msg["sessionId"])
        if session is not None:
            try:
                session.on_event(msg.get("method", ""), msg.get("params", {}))
            except Exception:  # noqa: BLE001 - a collector bug must not stop the reader of every page
                pass

    def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._dead is not None:
                fut.set_exception(BrowserError(self._dead))
                return fut
            self._next_id += 1
            msg_id = self._next_id
            self._pending[msg_id] = fut
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        data = json.dumps(msg).encode() + b"\0"
        try:
            with self._write_lock:
                view = memoryview(data)
                while view:
                    n = os.write(self._to_browser, view)
                    view = view[n:]
        except OSError as exc:
            self._fail_all(f"cannot write to Chromium: {exc.strerror or exc}")
        self.last_used = time.monotonic()
        return fut

    def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None,
             timeout: float = 10.0) -> dict[str, Any]:
        fut = self.send(method, params, session_id)
        try:
            return fut.result(timeout=max(timeout, 0.01))
        except TimeoutError as exc:
            raise BrowserError(f"{method}: no answer from Chromium within {timeout:.1f} s") from exc

    # ------------------------------------------------------------------ pages

    def acquire_page(self, timeout: float) -> bool:
        """A slot for one page check (at most MAX_PAGES at once); False when none freed up in time."""
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            return False
        with self._lock:
            self.busy += 1
        return True

    def release_page(self) -> None:
        with self._lock:
            self.busy -= 1
        self.last_used = time.monotonic()
        self._slots.release()

    def open_page(self, proxy_url: str, on_event: Callable[[str, dict[str, Any]], None],
                  timeout: float = 10.0) -> Session:
        """A blank page in a new browser context whose every request goes to proxy_url."""
        ctx = self.call("Target.createBrowserContext", {"proxyServer": proxy_url, "proxyBypassList": "<-loopback>",
                                                        "disposeOnDetach": True}, timeout=timeout)["browserContextId"]
        self._contexts.add(ctx)  # before its page exists: _browser_event must never close a check's page
        try:
            target = self.call("Target.createTarget", {"url": "about:blank", "browserContextId": ctx},
                               timeout=timeout)["targetId"]
            sid = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, timeout=timeout)[
                "sessionId"]
        except BrowserError:
            with contextlib.suppress(BrowserError):
                self.call("Target.disposeBrowserContext", {"browserContextId": ctx}, timeout=2)
            self._contexts.discard(ctx)
            raise
        session = Session(sid, target, ctx, on_event)
        self._sessions[sid] = session
        return session

    def close_page(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)
        with contextlib.suppress(BrowserError):
            self.call("Target.disposeBrowserContext", {"browserContextId": session.context_id}, timeout=5)
        self._contexts.discard(session.context_id)


def processes(browser_pid: int) -> list[tuple[int, str]]:
    """(pid, kind) of each process of a browser: its own process group (started with setsid). kind: browser
    (the group's leader), else Chromium's --type (renderer, utility, gpu-process...). For the bench and tests."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != browser_pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().replace(b"\0", b" ").split()  # Chromium may rewrite its argv into one string
        except (OSError, ProcessLookupError):
            continue
        kind = "browser" if int(entry) == browser_pid else next(
            (a[7:].decode(errors="replace") for a in args if a.startswith(b"--type=")), "helper")
        found.append((int(entry), kind))
    return found


# ---------------------------------------------------------------------- the process-wide browser

_LIVE: dict[int, Browser] = {}
STARTS = 0  # browsers started by this process (a batch must start one)
_SHARED: Browser | None = None
_SHARED_LOCK = threading.Lock()
_IDLE_THREAD: threading.Thread | None = None


def shared_browser() -> Browser:
    """The process's browser, started on first use and reused by every page check (a batch starts one);
    restarted if it died. Stopped after IDLE_SECONDS unused, and at exit."""
    global _SHARED, _IDLE_THREAD
    with _SHARED_LOCK:
        if _SHARED is None or not _SHARED.alive:
            if _SHARED is not None:
                _SHARED.stop()
            _SHARED = Browser().start()
            if _IDLE_THREAD is None or not _IDLE_THREAD.is_alive():
                _IDLE_THREAD = threading.Thread(target=_idle_watch, name="chromium-idle", daemon=True)
                _IDLE_THREAD.start()
        _SHARED.last_used = time.monotonic()
        return _SHARED


def stop_shared_browser(only: Browser | None = None) -> None:
    """Stop the process's browser (only if it is still `only`, when given: a check that found it wedged)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None and (only is None or _SHARED is only):
            _SHARED.stop()
            _SHARED = None


def _idle_watch() -> None:
    global _SHARED
    while True:
        time.sleep(1.0)
        with _SHARED_LOCK:
            b = _SHARED
            if b is None:
                return
            if not b.busy and time.monotonic() - b.last_used > IDLE_SECONDS:
                b.stop()
                _SHARED = None
                return


@atexit.register
def _stop_all() -> None:
    for browser in list(_LIVE.values()):
        browser.stop()
