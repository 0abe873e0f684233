"""Alerts: events open once and resolve once, sent over real SMTP (a local aiosmtpd server) and a JSON webhook (a
local HTTP receiver), in Vietnamese and English; a failed channel is retried without duplicating the others."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.orm import Session

from netready.monitor import alerts, store

from .servers import free_port
from .synth import T0, result

V6 = "2001:db8:200::129"
NAME = "dichvucong.a.gov.vn"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
            return "250 OK"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler.messages
    controller.stop()


@pytest.fixture
def hook():
    got: list[dict] = []
    fail_next = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if fail_next["n"]:
                fail_next["n"] -= 1
                self.send_response(500)
                self.end_headers()
                return
            got.append({"body": json.loads(body), "auth": self.headers.get("Authorization"),
                        "type": self.headers.get("Content-Type")})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, got, fail_next
    server.shutdown()
    server.server_close()


def _config(tmp_path, smtp_port, hook_port):
    f = tmp_path / "alerts.yml"
    f.write_text(f"""
thresholds: {{cert_days: 14, cert_lifetime_fraction: 0.3333, rrsig_days: 3, rule_fail: required}}
channels:
  - {{name: mail, type: smtp, host: 127.0.0.1, port: {smtp_port}, from: netready@localhost, to: [ops@localhost]}}
  - name: hook
    type: webhook
    url: http://127.0.0.1:{hook_port}/netready
    headers: {{Authorization: Bearer s3cret}}
""", encoding="utf-8")
    return alerts.load_config(f)


def _scan(engine, config, res, day, name=NAME):
    with Session(engine) as s, s.begin():
        rec = store.record(s, store.portal_by_name(s, name), res, at=int((T0 + timedelta(days=day)).timestamp()))
        alerts.evaluate(s, rec, config)
    return alerts.dispatch(engine, config)


def _events(got):
    return [(g["body"]["kind"], g["body"]["event"], g["body"]["key"]) for g in got]


def test_alerts_fire_once_per_event_and_once_on_resolve(engine, tmp_path, smtp, hook):
    (controller, mails), (server, got, _fail) = smtp, hook
    config = _config(tmp_path, controller.port, server.server_address[1])
    with Session(engine) as s, s.begin():
        store.add_portals(s, [NAME, "dichvucong.b.gov.vn"], "Tỉnh A")

    def at(day, **kw):
        return result(at=T0 + timedelta(days=day), cert_days=90, cert_life=200, rrsig_days=40, **kw)

    assert _scan(engine, config, at(0), 0) == (0, [])
    # Day 30: 60 days left of a 200-day certificate (less than a third); HTTPS on the IPv6 address fails; a
    # recommended rule fails too (no alert for it).
    fail = {("VN-HTTPS", V6): "fail", ("BP-HSTS", "198.51.100.129"): "fail"}
    sent, errors = _scan(engine, config, at(30, verdicts=fail), 30)
    assert (sent, errors) == (4, [])
    assert sorted(_events(got)) == [("cert-expiry", "open", ""), ("rule-fail", "open", f"VN-HTTPS {V6}")]
    # Day 31: the same again: nothing new is sent.
    assert _scan(engine, config, at(31, verdicts=fail), 31) == (0, [])
    # Day 38: the first RRSIG has 2 days left; HTTPS over IPv6 is back.
    assert _scan(engine, config, at(38), 38)[0] == 4
    assert _events(got)[2:] == [("rule-fail", "resolve", f"VN-HTTPS {V6}"), ("rrsig-expiry", "open", "")] or \
        sorted(_events(got)[2:]) == [("rrsig-expiry", "open", ""), ("rule-fail", "resolve", f"VN-HTTPS {V6}")]
    # Day 39: a new certificate (200 days) and fresh signatures; the portal stops answering.
    new = result(at=T0 + timedelta(days=39), cert_days=239, cert_life=200, rrsig_days=60, serial="02",
                 reachable=False)
    assert _scan(engine, config, new, 39)[0] == 6
    assert sorted(_events(got)[4:]) == [("cert-expiry", "resolve", ""), ("rrsig-expiry", "resolve", ""),
                                        ("unreachable", "open", "")]
    # Mail and webhook got the same events; texts in Vietnamese and English.
    assert len(mails) == len(got) == 7
    rcpt, first = mails[0]
    assert rcpt == ["ops@localhost"] and first["From"] == "netready@localhost"
    bodies = [m.get_content() for _r, m in mails]
    assert any("Chứng chỉ của dichvucong.a.gov.vn sẽ hết hạn sau 60.0 ngày" in b and
               "The certificate of dichvucong.a.gov.vn expires in 60.0 days" in b for b in bodies)
    assert any("Quy tắc bắt buộc VN-HTTPS chuyển từ đạt sang không đạt" in b for b in bodies)
    assert any(m["Subject"].startswith("[netready] Tỉnh A: ") for _r, m in mails)
    cert_open = next(g for g in got if g["body"]["kind"] == "cert-expiry" and g["body"]["event"] == "open")
    assert cert_open["auth"] == "Bearer s3cret" and cert_open["type"] == "application/json"
    assert cert_open["body"]["detail"]["limit_days"] == 66.7 and cert_open["body"]["portal"] == NAME
    assert cert_open["body"]["message"]["en"].startswith("The certificate of dichvucong.a.gov.vn expires in 60.0")
    with Session(engine) as s:
        assert [(a["kind"], a["portal"]) for a in alerts.open_alerts(s)] == [("unreachable", NAME)]


def test_a_rule_failing_from_the_first_scan_raises_no_alert(engine, tmp_path, smtp, hook):
    (controller, mails), (server, got, _fail) = smtp, hook
    config = _config(tmp_path, controller.port, server.server_address[1])
    with Session(engine) as s, s.begin():
        store.add_portals(s, [NAME], "Tỉnh A")
    fail = {("VN-HTTPS", V6): "fail"}
    assert _scan(engine, config, result(verdicts=fail), 0) == (0, [])
    assert _scan(engine, config, result(verdicts=fail, at=T0 + timedelta(days=1)), 1) == (0, [])
    assert got == [] and mails == []


def test_a_failed_channel_is_retried_without_duplicating_the_others(engine, tmp_path, smtp, hook):
    (controller, mails), (server, got, fail_next) = smtp, hook
    config = _config(tmp_path, controller.port, server.server_address[1])
    with Session(engine) as s, s.begin():
        store.add_portals(s, [NAME], "Tỉnh A")
    fail_next["n"] = 1
    sent, errors = _scan(engine, config, result(reachable=False), 0)
    assert sent == 1 and len(errors) == 1 and "hook: HTTPError: HTTP Error 500" in errors[0]
    assert len(mails) == 1 and got == []
    assert alerts.dispatch(engine, config) == (1, [])  # the next round
    assert len(mails) == 1 and _events(got) == [("unreachable", "open", "")]
    assert alerts.dispatch(engine, config) == (0, [])


def test_config_errors_are_clear(tmp_path):
    f = tmp_path / "a.yml"
    for text, message in (
        ("thresholds: {cert_dayz: 3}", "unknown threshold 'cert_dayz'"),
        ("channels: [{type: pigeon}]", "type must be smtp or webhook"),
        ("channels: [{type: smtp, host: h}]", "needs from, to"),
        ("channels: [{type: webhook, url: ftp://x}]", "url must be http"),
        ("thresholds: {rule_fail: sometimes}", "rule_fail must be required, all or none"),
        ("- a list", "top level must be a mapping"),
        ("a: [", "not valid YAML"),
    ):
        f.write_text(text, encoding="utf-8")
        with pytest.raises(alerts.AlertConfigError, match=message):
            alerts.load_config(f)
    assert alerts.load_config(None).thresholds["rrsig_days"] == 3.0
    with pytest.raises(alerts.AlertConfigError, match="cannot read"):
        alerts.load_config(tmp_path / "missing.yml")
