"""Alerts: events raised from stored scans, sent once when they open and once when they are resolved.

Events (thresholds from the config, defaults from docs/monitor.md):
- cert-expiry: the earliest certificate of the portal expires within `cert_days` (14) days, or within
  `cert_lifetime_fraction` (a third) of its lifetime, whichever comes first;
- rrsig-expiry: the earliest RRSIG on the portal's DNSSEC chain expires within `rrsig_days` (3) days;
- rule-fail: a required rule turns from pass to fail on a subject (an address, a zone, the portal);
- unreachable: no address of the portal answered at all.
An event is one row in `alerts`; a channel gets it once ("open"), and once more when it is resolved. A channel
that fails is retried on the next dispatch, without sending twice to the channels that got it.

Config (YAML, `--config`):
    thresholds: {cert_days: 14, cert_lifetime_fraction: 0.3333, rrsig_days: 3, rule_fail: required,
                 unreachable: true}
    channels:
      - {name: ops-mail, type: smtp, host: 127.0.0.1, port: 25, from: netready@localhost, to: [ops@localhost],
         starttls: false, username: null, password: null, orgs: [...optional...]}
      - {name: hook, type: webhook, url: http://127.0.0.1:9000/netready, headers: {...}, timeout: 10}
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.monitor.db import Alert, Organisation, Portal, State
from netready.monitor.store import CRASHED, Recorded, findings_of

KINDS = ("cert-expiry", "rrsig-expiry", "rule-fail", "unreachable")
DEFAULT_THRESHOLDS = {"cert_days": 14.0, "cert_lifetime_fraction": 1 / 3, "rrsig_days": 3.0, "rule_fail": "required",
                      "unreachable": True}
CHANNEL_KEYS = {
    "smtp": {"name", "type", "host", "port", "from", "to", "starttls", "ssl", "username", "password", "timeout",
             "orgs"},
    "webhook": {"name", "type", "url", "headers", "timeout", "orgs"},
}


class AlertConfigError(ValueError):
    """A config file that cannot be used, with the reason: a usage error."""


@dataclass
class Channel:
    name: str
    type: str
    options: dict[str, Any]
    orgs: list[str] = field(default_factory=list)

    def wants(self, org: str) -> bool:
        return not self.orgs or org in self.orgs


@dataclass
class AlertConfig:
    thresholds: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    channels: list[Channel] = field(default_factory=list)


def load_config(path: str | Path | None) -> AlertConfig:
    """The alert config; no file: default thresholds, no channel (events are still recorded)."""
    if path is None:
        return AlertConfig()
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise AlertConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise AlertConfigError(f"{path}: the top level must be a mapping with thresholds and channels")
    unknown = set(data) - {"thresholds", "channels"}
    if unknown:
        raise AlertConfigError(f"{path}: unknown keys {sorted(unknown)} (allowed: thresholds, channels)")
    thresholds = dict(DEFAULT_THRESHOLDS)
    for key, value in (data.get("thresholds") or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise AlertConfigError(f"{path}: unknown threshold {key!r} (allowed: {', '.join(DEFAULT_THRESHOLDS)})")
        if key == "rule_fail" and value not in ("required", "all", "none"):
            raise AlertConfigError(f"{path}: rule_fail must be required, all or none")
        if key in ("cert_days", "cert_lifetime_fraction", "rrsig_days") and not isinstance(value, (int, float)):
            raise AlertConfigError(f"{path}: {key} must be a number")
        thresholds[key] = value
    channels = []
    for i, ch in enumerate(data.get("channels") or []):
        if not isinstance(ch, dict) or ch.get("type") not in CHANNEL_KEYS:
            raise AlertConfigError(f"{path}: channel {i + 1}: type must be smtp or webhook")
        extra = set(ch) - CHANNEL_KEYS[ch["type"]]
        if extra:
            raise AlertConfigError(f"{path}: channel {i + 1}: unknown keys {sorted(extra)}")
        need = ("host", "from", "to") if ch["type"] == "smtp" else ("url",)
        missing = [k for k in need if not ch.get(k)]
        if missing:
            raise AlertConfigError(f"{path}: channel {i + 1} ({ch['type']}) needs {', '.join(missing)}")
        if ch["type"] == "webhook" and not str(ch["url"]).startswith(("http://", "https://")):
            raise AlertConfigError(f"{path}: channel {i + 1}: url must be http:// or https://")
        name = str(ch.get("name") or f"{ch['type']}{i + 1}")
        channels.append(Channel(name, ch["type"], {k: v for k, v in ch.items() if k not in ("name", "type", "orgs")},
                                list(ch.get("orgs") or [])))
    if len({c.name for c in channels}) != len(channels):
        raise AlertConfigError(f"{path}: channel names must be distinct")
    return AlertConfig(thresholds, channels)


# --- raising and resolving events -----------------------------------------------------------------------------


def _open(session: Session, portal: Portal, kind: str, key: str, at: int, detail: dict[str, Any]) -> None:
    session.add(Alert(portal_id=portal.id, kind=kind, key=key, opened_at=at, detail=json.dumps(detail),
                      open_sent=False, resolve_sent=False, delivered=""))


def evaluate(session: Session, rec: Recorded, config: AlertConfig) -> None:
    """Open and resolve this portal's events after a stored scan. A crashed scan changes nothing (it says nothing
    about the portal); a fact that was not observed (no certificate seen) neither opens nor resolves."""
    state = session.get(State, rec.run.state_id)
    if state.status == CRASHED:
        return
    th = config.thresholds
    at = rec.run.last_at
    portal = rec.portal
    open_now = {(a.kind, a.key): a for a in session.scalars(
        select(Alert).where(Alert.portal_id == portal.id, Alert.resolved_at.is_(None)))}
    active: dict[tuple[str, str], dict[str, Any] | None] = {}  # key -> detail (active) or None (known, inactive)
    ex = rec.facts
    days = ex.cert_days()
    if days is not None:
        limit = float(th["cert_days"])
        if ex.cert_lifetime:
            limit = max(limit, ex.cert_lifetime / 86400 * float(th["cert_lifetime_fraction"]))
        active[("cert-expiry", "")] = ({"days": days, "expires": ex.cert_expires, "subject": ex.cert_subject,
                                        "limit_days": round(limit, 1)} if days <= limit else None)
    days = ex.rrsig_days()
    if days is not None:
        active[("rrsig-expiry", "")] = ({"days": days, "expires": ex.rrsig_expires, "owner": ex.rrsig_owner}
                                        if days <= float(th["rrsig_days"]) else None)
    if th.get("unreachable") and rec.run.reachable is not None:
        active[("unreachable", "")] = {"target_error": rec.result.target.error} if rec.run.reachable is False else None
    if th.get("rule_fail") != "none":
        prev_verdicts: dict[tuple[str, str], tuple[str, str]] = {}
        if rec.previous is not None:
            prev_state = session.get(State, rec.previous.state_id)
            if prev_state.finding_set_id:
                prev_verdicts = findings_of(session, [prev_state.finding_set_id])[prev_state.finding_set_id]
        now_verdicts = {(f.rule_id, f.subject or ""): (f.verdict, f.level) for f in rec.result.findings}
        for (rule, subject), (verdict, level) in now_verdicts.items():
            if th["rule_fail"] == "required" and level != "required":
                continue
            key = ("rule-fail", f"{rule} {subject}".strip())
            was = prev_verdicts.get((rule, subject), (None, None))[0]
            if verdict == "fail" and (was == "pass" or key in open_now):
                active[key] = {"rule": rule, "subject": subject, "from": was or "pass", "to": verdict}
            elif verdict == "pass":
                active[key] = None
        for key in [k for k in open_now if k[0] == "rule-fail" and k not in active]:
            rule, _, subject = key[1].partition(" ")
            if (rule, subject) not in now_verdicts:
                active[key] = None  # the subject is gone (an address removed): resolved
    for key, detail in active.items():
        alert = open_now.get(key)
        if detail is not None and alert is None:
            _open(session, portal, key[0], key[1], at, detail)
        elif detail is None and alert is not None:
            alert.resolved_at = at
            alert.detail = json.dumps({**json.loads(alert.detail or "{}"), "resolved": _resolution(key[0], ex)})
    session.flush()


def _resolution(kind: str, ex: Any) -> dict[str, Any]:
    if kind == "cert-expiry":
        return {"days": ex.cert_days()}
    if kind == "rrsig-expiry":
        return {"days": ex.rrsig_days()}
    return {}


# --- messages -------------------------------------------------------------------------------------------------

TEXT = {
    "vi": {
        ("cert-expiry", "open"): "Chứng chỉ của {portal} sẽ hết hạn sau {days} ngày ({date}, trên {subject})",
        ("cert-expiry", "resolve"): "Đã khắc phục: chứng chỉ của {portal} không còn sắp hết hạn",
        ("rrsig-expiry", "open"): "Chữ ký RRSIG đầu tiên trên chuỗi DNSSEC của {portal} hết hạn sau {days} ngày "
                                  "({date}, {owner})",
        ("rrsig-expiry", "resolve"): "Đã khắc phục: chữ ký DNSSEC của {portal} đã được gia hạn",
        ("rule-fail", "open"): "Quy tắc bắt buộc {rule} chuyển từ đạt sang không đạt trên {portal} {subject}",
        ("rule-fail", "resolve"): "Đã khắc phục: quy tắc {rule} đạt trở lại trên {portal} {subject}",
        ("unreachable", "open"): "Không truy cập được cổng {portal}",
        ("unreachable", "resolve"): "Đã khắc phục: cổng {portal} truy cập được trở lại",
        "subject": "[netready] {org}: {text}",
    },
    "en": {
        ("cert-expiry", "open"): "The certificate of {portal} expires in {days} days ({date}, on {subject})",
        ("cert-expiry", "resolve"): "Resolved: the certificate of {portal} no longer expires soon",
        ("rrsig-expiry", "open"): "The first RRSIG on the DNSSEC chain of {portal} expires in {days} days "
                                  "({date}, {owner})",
        ("rrsig-expiry", "resolve"): "Resolved: the DNSSEC signatures of {portal} were renewed",
        ("rule-fail", "open"): "Required rule {rule} turned from pass to fail on {portal} {subject}",
        ("rule-fail", "resolve"): "Resolved: rule {rule} passes again on {portal} {subject}",
        ("unreachable", "open"): "Portal {portal} is unreachable",
        ("unreachable", "resolve"): "Resolved: portal {portal} is reachable again",
        "subject": "[netready] {org}: {text}",
    },
}


def message(alert: Alert, portal: str, org: str, event: str) -> dict[str, str]:
    """{"vi": ..., "en": ...} for this alert's open or resolve event."""
    d = json.loads(alert.detail or "{}")
    expires = d.get("expires")
    fill = {"portal": portal, "org": org, "days": d.get("days"), "subject": d.get("subject") or "",
            "owner": d.get("owner") or "", "rule": d.get("rule") or alert.key.split(" ")[0],
            "date": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC") if expires else "?"}
    if alert.kind == "rule-fail":
        fill["subject"] = d.get("subject") or ""
    return {lang: TEXT[lang][(alert.kind, event)].format(**fill).strip() for lang in ("vi", "en")}


def payload(alert: Alert, portal: str, org: str, event: str) -> dict[str, Any]:
    return {"event": event, "kind": alert.kind, "key": alert.key, "portal": portal, "org": org, "id": alert.id,
            "opened_at": alert.opened_at, "resolved_at": alert.resolved_at, "detail": json.loads(alert.detail or "{}"),
            "message": message(alert, portal, org, event)}


def _send_smtp(ch: Channel, body: dict[str, Any]) -> None:
    o = ch.options
    msg = EmailMessage()
    text = body["message"]
    msg["Subject"] = TEXT["vi"]["subject"].format(org=body["org"], text=text["vi"])
    msg["From"] = o["from"]
    to = o["to"] if isinstance(o["to"], list) else [o["to"]]
    msg["To"] = ", ".join(to)
    msg.set_content(f"{text['vi']}\n\n{text['en']}\n\n" + json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    cls = smtplib.SMTP_SSL if o.get("ssl") else smtplib.SMTP
    with cls(o["host"], int(o.get("port") or (465 if o.get("ssl") else 25)), timeout=float(o.get("timeout", 10))) as s:
        if o.get("starttls"):
            s.starttls()
        if o.get("username"):
            s.login(o["username"], o.get("password") or "")
        s.send_message(msg, to_addrs=to)


def _send_webhook(ch: Channel, body: dict[str, Any]) -> None:
    o = ch.options
    req = urllib.request.Request(o["url"], data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(o.get("headers") or {})})
    with urllib.request.urlopen(req, timeout=float(o.get("timeout", 10))) as resp:  # noqa: S310 (configured URL)
        if not 200 <= resp.status < 300:
            raise OSError(f"HTTP {resp.status}")


SENDERS = {"smtp": _send_smtp, "webhook": _send_webhook}


def dispatch(engine: Engine, config: AlertConfig) -> tuple[int, list[str]]:
    """Send every event a channel has not had yet. Returns (notifications sent, errors)."""
    sent, errors = 0, []
    with Session(engine) as session, session.begin():
        pending = session.scalars(select(Alert).where(or_(
            Alert.open_sent.is_(False), Alert.resolved_at.is_not(None) & Alert.resolve_sent.is_(False))))
        for alert in pending:
            portal = session.get(Portal, alert.portal_id)
            org = session.get(Organisation, portal.org_id).name
            done = set(alert.delivered.split())
            for event in ("open", "resolve"):
                if event == "resolve" and alert.resolved_at is None:
                    continue
                ok = True
                for ch in config.channels:
                    tag = f"{ch.name}:{event}"
                    if tag in done or not ch.wants(org):
                        continue
                    try:
                        SENDERS[ch.type](ch, payload(alert, portal.display_name, org, event))
                    except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as exc:
                        ok = False
                        alert.last_error = f"{ch.name}: {type(exc).__name__}: {exc}"
                        errors.append(f"{portal.name} {alert.kind} {event} -> {alert.last_error}")
                        continue
                    done.add(tag)
                    sent += 1
                if ok:
                    setattr(alert, f"{event}_sent", True)
            alert.delivered = " ".join(sorted(done))
    return sent, errors


def open_alerts(session: Session, org: str | None = None) -> list[dict[str, Any]]:
    query = (select(Alert, Portal.name, Organisation.name).join(Portal, Portal.id == Alert.portal_id)
             .join(Organisation, Organisation.id == Portal.org_id).where(Alert.resolved_at.is_(None)))
    if org:
        query = query.where(Organisation.name == org)
    return [{"portal": p, "org": o, "kind": a.kind, "key": a.key, "opened_at": a.opened_at,
             "detail": json.loads(a.detail or "{}")} for a, p, o in session.execute(query)]
