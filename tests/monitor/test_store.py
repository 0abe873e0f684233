"""The monitor's database on SQLite and on a real PostgreSQL: migrations, runs of identical scans, deduplicated
evidence, status, history, diff, crashed scans, CSV import, hashed tokens."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from netready.monitor import auth, store
from netready.monitor.db import Base, Evidence, FindingRow, Latest, Run, Token

from .synth import T0, result

V6 = "2001:db8:200::129"


def _at(day: float) -> int:
    return int((T0 + timedelta(days=day)).timestamp())


def _scan(engine, name, res, day):
    with Session(engine) as s, s.begin():
        return store.record(s, store.portal_by_name(s, name), res, at=_at(day)).run.id


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def portal(engine):
    with Session(engine) as s, s.begin():
        store.add_portals(s, ["dichvucong.a.gov.vn"], "Tỉnh A", "24h", at=_at(0))
    return "dichvucong.a.gov.vn"


def test_migrations_give_exactly_the_models_tables(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"


def test_identical_scans_extend_one_run_and_share_one_evidence(engine, portal):
    # Times, durations, the Date header and messages differ on every scan: the same thing was seen.
    for day in range(3):
        res = result(at=T0 + timedelta(days=day, seconds=7 * day))
        res.observations[0].duration_ms = 100 + day
        if day == 2:  # a name server listing its DNSKEY set in another order is the same set
            res.observations[2].data["zones"][0]["dnskey_sigs"].append({"owner": "x", "signer": ".",
                                                                         "expiration_ts": 9e9})
            res.observations[2].data["zones"][0]["dnskey_sigs"].reverse()
        _scan(engine, portal, res, day)
    runs = _count(engine, Run)
    assert runs == 2  # the DNSKEY signature list changed content on day 2 (one more signature)
    with Session(engine) as s:
        first = s.scalars(select(Run).order_by(Run.id)).first()
        assert (first.scans, first.first_at, first.last_at) == (2, _at(0), _at(1))
    assert _count(engine, Evidence) == 2


def test_reordered_lists_and_volatile_fields_hash_the_same():
    def ev(observations):
        return {"observations": [o.to_dict() for o in observations]}

    a = result().observations
    later = result(at=T0 + timedelta(hours=5)).observations  # other times, durations, Date header
    later[0].data["http"]["https"]["headers"] = [["date", "Mon, 02 Mar 2026 13:00:00 GMT"]]
    assert store.evidence_hash(ev(a)) == store.evidence_hash(ev(later))
    assert store.evidence_hash(ev(a)) == store.evidence_hash(ev(reversed(later)))  # order of observations
    # A new certificate, or a new signature, is a change.
    assert store.evidence_hash(ev(a)) != store.evidence_hash(ev(result(serial="02").observations))
    assert store.evidence_hash(ev(a)) != store.evidence_hash(ev(result(cert_days=91).observations))
    # Timings, moments and transfer sizes of any probe, by the shape of their names, are not either.
    x = {"id": "ipv6only:x:hosts", "data": {"pages_ms": 2431.5, "transport": [{"bytes_up": 2476, "connect_ms": 15.0,
                                                                              "address": "2001:db8::1"}]}}
    y = {"id": "ipv6only:x:hosts", "data": {"pages_ms": 2924.0, "transport": [{"bytes_up": 2572, "connect_ms": 9.1,
                                                                              "address": "2001:db8::1"}]}}
    assert store.evidence_hash({"observations": [x]}) == store.evidence_hash({"observations": [y]})
    y["data"]["transport"][0]["address"] = "2001:db8::2"
    assert store.evidence_hash({"observations": [x]}) != store.evidence_hash({"observations": [y]})
    # The denial check's random name and the records covering it are not.
    d1 = {"id": "dnssec:x:denial:x.", "data": {"qname": "nr-0a1b2c3d4e.x.", "sigs": [{"owner": "A1.x."}],
                                              "status": "secure"}, "asked": {"qname": "nr-0a1b2c3d4e.x."}}
    d2 = {"id": "dnssec:x:denial:x.", "data": {"qname": "nr-99ffee0011.x.", "sigs": [{"owner": "B7.x."}],
                                              "status": "secure"}, "asked": {"qname": "nr-99ffee0011.x."}}
    assert store.evidence_hash({"observations": [d1]}) == store.evidence_hash({"observations": [d2]})
    d2["data"]["status"] = "bogus"
    assert store.evidence_hash({"observations": [d1]}) != store.evidence_hash({"observations": [d2]})


def test_a_new_report_schema_number_is_not_a_change_of_what_the_probes_saw():
    evidence = {"schema_version": 2, "target": {"name": "x"}, "observations": [{"id": "a", "data": {"k": 1}}],
                "findings": [], "summary": {}}
    assert store.evidence_hash(evidence) == store.evidence_hash({**evidence, "schema_version": 3})
    assert store.evidence_hash(evidence) != store.evidence_hash(
        {**evidence, "observations": [{"id": "a", "data": {"k": 2}}]})


def test_dnssec_signature_work_counts_from_the_process_cache_hash_the_same(engine, portal):
    """The DNSSEC check's verification budget says how many signatures were verified and how many came from the
    process's cache: the second scan of a `monitor run` (or any portal after another of the same parent zone)
    verifies fewer. Seen as a change, every scan of an unchanged portal started a new run ("evidence changed")."""
    def scan(day, verified, cached, refused=0, limit=256):
        res = result(at=T0 + timedelta(days=day))
        res.observations[2].data["validation"] = {"verified": verified, "cached": cached, "refused": refused,
                                                  "limit": limit}
        return res

    _scan(engine, portal, scan(0, 10, 19), 0)
    _scan(engine, portal, scan(1, 0, 29), 1)
    _scan(engine, portal, scan(2, 7, 22, refused=3), 2)
    with Session(engine) as s:
        row = store.status(s, at=_at(2))[0]
        assert (row.scans, row.changes) == (3, [])
        assert _count(engine, Run) == 1 and _count(engine, Evidence) == 1
    # The budget's limit is a setting of the check, and a per-server validation outcome is evidence: both count.
    _scan(engine, portal, scan(3, 7, 22, limit=128), 3)
    assert _count(engine, Run) == 2
    server = {"id": "dnssec:x:server:a", "data": {"validation": {"status": "secure", "reason": "", "checks": [],
                                                                 "sigs": []}}}
    bogus = {"id": "dnssec:x:server:a", "data": {"validation": {"status": "bogus", "reason": "", "checks": [],
                                                                "sigs": []}}}
    assert store.evidence_hash({"observations": [server]}) != store.evidence_hash({"observations": [bogus]})


def test_a_new_certificate_starts_a_new_run_with_the_same_verdicts(engine, portal):
    _scan(engine, portal, result(serial="01"), 0)
    _scan(engine, portal, result(serial="02", at=T0 + timedelta(days=1)), 1)
    with Session(engine) as s:
        row = store.status(s, at=_at(1))[0]
        assert row.changes == ["evidence changed, verdicts the same"]
        assert row.status == "compliant" and row.cert_days == 89.0 and row.rrsig_days == 13.0
        ev = store.load_evidence(s, s.get(Latest, 1).evidence_id)
        assert ev["observations"][0]["data"]["certificate"]["chain"][0]["serial"] == "02"


def test_status_history_and_diff_follow_verdict_changes(engine, portal):
    with Session(engine) as s, s.begin():
        store.add_portals(s, ["dichvucong.b.gov.vn"], "Bộ B", at=_at(0))
    b = "dichvucong.b.gov.vn"
    _scan(engine, portal, result(), 0)
    _scan(engine, b, result(b), 0)
    _scan(engine, portal, result(at=T0 + timedelta(days=1)), 1)
    _scan(engine, b, result(b, at=T0 + timedelta(days=1)), 1)
    # Day 2: the IPv6 address of a stops answering HTTPS; b is unchanged.
    _scan(engine, portal, result(verdicts={("VN-HTTPS", V6): "fail"}, at=T0 + timedelta(days=2)), 2)
    _scan(engine, b, result(b, at=T0 + timedelta(days=2)), 2)
    with Session(engine) as s:
        rows = {r.portal: r for r in store.status(s, at=_at(2))}
        assert rows[portal].status == "not-compliant" and rows[portal].failed_required == ["VN-HTTPS"]
        assert rows[portal].changes == ["status compliant -> not-compliant", f"VN-HTTPS@{V6} pass -> fail"]
        assert rows[b].changes == [] and rows[b].scans == 3
        assert [r.portal for r in store.status(s, org="Bộ B")] == [b]
        hist = store.history(s, portal)
        assert [(r["status"], r["scans"]) for r in hist["runs"]] == [("compliant", 2), ("not-compliant", 1)]
        assert hist["changes"] == [
            {"at": _at(2), "kind": "status", "rule": None, "subject": None, "from": "compliant",
             "to": "not-compliant"},
            {"at": _at(2), "kind": "verdict", "rule": "VN-HTTPS", "subject": V6, "from": "pass", "to": "fail"}]
        d = store.diff(s, since=_at(1.5), until=_at(3))
        assert [p["portal"] for p in d["portals"]] == [portal]
        assert d["totals"]["rules_newly_failing"] == {"VN-HTTPS": 1}
        assert d["totals"]["became"] == {"not-compliant": 1}
        assert store.diff(s, since=_at(1.5), until=_at(3), org="Bộ B")["portals"] == []
        # Before the change, nothing changed for either (their first runs are not changes against anything).
        assert store.diff(s, since=_at(0.5), until=_at(1.5))["portals"] == []
    # Day 3: fixed again.
    _scan(engine, portal, result(at=T0 + timedelta(days=3)), 3)
    with Session(engine) as s:
        hist = store.history(s, portal)
        assert hist["changes"][-1] == {"at": _at(3), "kind": "verdict", "rule": "VN-HTTPS", "subject": V6,
                                       "from": "fail", "to": "pass"}
        assert store.diff(s, since=_at(1.5), until=_at(4))["portals"] == []  # back where it was


def test_finding_sets_are_shared_and_normalised(engine, portal):
    _scan(engine, portal, result(), 0)
    _scan(engine, portal, result(serial="02"), 1)
    with Session(engine) as s:
        rows = s.execute(select(FindingRow.rule, FindingRow.subject, FindingRow.verdict, FindingRow.level)
                         .order_by(FindingRow.rule, FindingRow.subject)).all()
    assert len(rows) == 5  # one finding set for both runs
    assert ("VN-HTTPS", V6, "pass", "required") in rows and ("VN-NAMING", "", "info", "info") in rows


def test_crashed_scan_is_recorded_and_retried_next_round(engine, portal):
    from netready.model import Target

    _scan(engine, portal, result(), 0)
    crash = store.crashed_result(Target(portal, portal), "check crashed: RuntimeError: boom")
    _scan(engine, portal, crash, 1)
    with Session(engine) as s:
        row = store.status(s, at=_at(1))[0]
        assert row.status == "crashed" and row.error == "check crashed: RuntimeError: boom"
        assert store.due_portals(s, at=_at(1)) == []
        # Retried 10 minutes later, not 24 h.
        assert [p.name for p in store.due_portals(s, at=_at(1) + store.CRASH_RETRY)] == [portal]
        hist = store.history(s, portal)
        assert hist["changes"][0]["to"] == "crashed"
    _scan(engine, portal, result(at=T0 + timedelta(days=1, hours=1)), 1.05)
    with Session(engine) as s:
        assert store.due_portals(s, at=_at(1.1)) == []  # next one in 24 h
        hist = store.history(s, portal)
        assert [c["to"] for c in hist["changes"]] == ["crashed", "compliant"]  # no verdict change across the crash


def test_import_csv_groups_portals_by_organisation(engine, tmp_path):
    f = tmp_path / "portals.csv"
    f.write_text("name,org,every,profile,vantage\ndichvucong.a.gov.vn,Tỉnh A,12h,strict,vnpt viettel\n"
                 "Dịch-vụ.b.gov.vn,Bộ B,,,\n\n", encoding="utf-8")
    with Session(engine) as s, s.begin():
        got = store.import_csv(s, f)
    assert got.added == ["dichvucong.a.gov.vn", "xn--dch-v-q81bsh.b.gov.vn"]
    with Session(engine) as s:
        a = store.portal_by_name(s, "dichvucong.a.gov.vn")
        assert (a.every_s, a.profile, a.vantages) == (43200, "strict", "vnpt,viettel")
        assert store.portal_by_name(s, "Dịch-vụ.b.gov.vn").display_name == "Dịch-vụ.b.gov.vn"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,agency\nx.gov.vn,A\n", encoding="utf-8")
    with Session(engine) as s, pytest.raises(store.StoreError, match="columns name and org"):
        store.import_csv(s, bad)
    bad.write_text("name,org,every\nx.gov.vn,A,soon\n", encoding="utf-8")
    with Session(engine) as s, pytest.raises(store.StoreError, match="line 2: bad duration 'soon'"):
        store.import_csv(s, bad)


# Secrets as secrets.token_urlsafe(24) gives them (32 characters of URL-safe base64), chosen so that the ways the
# secret's own "_" and "-" could be misread are all there: the test read the secret after the token's last "_",
# so a random secret containing "_" (39 % of them) left a tail that is often in the hash (about 2 % failed).
SECRETS = ("Qx7_Zk2-Lp9vWm4tRb8nYc3dHf6gJs1_", "_Ab3Cd4Ef5Gh6Ij7Kl8Mn9Op0Qr1St2U", "Vw3Xy4Za5Bc6De7Fg8Hi9Jk0Lm1No2P-",
           "a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_pq")


@pytest.mark.parametrize("secret", SECRETS)
def test_tokens_are_stored_as_argon2_hashes(engine, portal, secret, monkeypatch):
    monkeypatch.setattr(auth.secrets, "token_urlsafe", lambda n: secret)
    with Session(engine) as s, s.begin():
        token = auth.create_token(s, "read", "Tỉnh A")
        with pytest.raises(store.StoreError, match="give --org"):
            auth.create_token(s, "read")
        with pytest.raises(store.StoreError, match="no organisation"):
            auth.create_token(s, "read", "Nobody")
    public, got = auth.split_token(token)
    assert got == secret and token == f"nr_{public}_{secret}"
    with Session(engine) as s:
        row = s.scalars(select(Token)).one()
        assert row.public_id == public and row.secret_hash.startswith("$argon2") and secret not in row.secret_hash
        v = auth.Verifier()
        assert v.verify(s, token) == auth.Principal(row.id, "read", "Tỉnh A")
        for wrong in (token[:-1] + ("x" if token[-1] != "x" else "y"),  # the secret's last character
                      f"nr_{public}_{secret[1:]}", f"nr_{public}_{secret}_", f"nr_{public}{secret}",
                      f"nr_{public}_", "Bearer nonsense", ""):
            assert v.verify(s, wrong) is None, wrong


def test_evidence_is_compressed_and_reads_back(engine, portal):
    res = result()
    _scan(engine, portal, res, 0)
    with Session(engine) as s:
        row = s.scalars(select(Evidence)).one()
        assert len(row.data) < row.raw_size
        ev = store.load_evidence(s, row.id)
    assert ev["target"]["name"] == portal
    assert ev["findings"] == [json.loads(json.dumps(f.to_dict())) for f in res.findings]
    assert ev["summary"]["status"] == "compliant"


def test_bad_input_is_a_clear_error(engine):
    with Session(engine) as s:
        with pytest.raises(store.StoreError, match="bad duration"):
            store.add_portals(s, ["a.gov.vn"], "A", "every day")
        with pytest.raises(store.StoreError, match="needs a name"):
            store.add_portals(s, ["a.gov.vn"], " ")
        with pytest.raises(store.StoreError, match="no portal 'b.gov.vn'"):
            store.history(s, "b.gov.vn")
        with pytest.raises(store.StoreError, match="vantage point name"):
            store.add_portals(s, ["a.gov.vn"], "A", vantages=["bad name"])


def test_new_evidence_is_a_short_delta_against_the_previous_one(engine, portal, monkeypatch):
    monkeypatch.setattr(store, "EVIDENCE_CHAIN", 2)
    sent = []
    for day, serial in enumerate(("01", "02", "03", "04")):  # a renewed certificate each time
        res = result(serial=serial, at=T0 + timedelta(days=day))
        sent.append(res)
        _scan(engine, portal, res, day)
    with Session(engine) as s:
        rows = list(s.scalars(select(Evidence).order_by(Evidence.id)))
        assert [(r.codec, r.depth) for r in rows] == [("zstd", 0), ("zstd-delta", 1), ("zstd-delta", 2), ("zstd", 0)]
        assert rows[1].base_id == rows[0].id and rows[2].base_id == rows[1].id
        assert len(rows[2].data) < len(rows[0].data) / 3  # only what changed
        for row, res in zip(rows, sent, strict=True):
            ev = store.load_evidence(s, row.id)
            assert ev["observations"] == [json.loads(json.dumps(o.to_dict())) for o in res.observations]


def test_findings_with_new_fields_and_verdict_words_are_stored(engine, portal):
    """The finding model grows (root causes and their consequences, fix hints): the store keeps what it knows in
    the normalised table and everything in the evidence."""
    import dataclasses

    from netready.model import Finding

    # caused_by and fix are fields of today's model (#14); future_note stands for one a later version adds.
    Richer = dataclasses.make_dataclass("Richer", [("future_note", str | None, None)], bases=(Finding,))
    res = result()
    res.findings = [Richer(**(dataclasses.asdict(f) | {
        "caused_by": "VN-HTTPS" if f.rule_id == "BP-HSTS" else None, "fix": {"vi": "bật HSTS", "en": "turn HSTS on"}}),
        future_note="later") for f in res.findings]
    res.findings[0].verdict = "consequence"  # a verdict word this version does not know
    _scan(engine, portal, res, 0)
    with Session(engine) as s:
        row = s.scalars(select(FindingRow).where(FindingRow.verdict == "consequence")).one()
        assert row.rule == res.findings[0].rule_id
        ev = store.load_evidence(s, s.scalars(select(Evidence)).one().id)
    hsts = next(f for f in ev["findings"] if f["rule_id"] == "BP-HSTS")
    assert hsts["caused_by"] == "VN-HTTPS" and hsts["fix"]["en"] == "turn HSTS on" and hsts["future_note"] == "later"


def test_concurrent_writers_of_one_portal_keep_its_latest_scan_right(engine, portal):
    """Two writers (the scheduler and a `run --once` from cron; Celery results stored while local scans are) record
    scans of the same portal at once, each in its own connection: no scan is lost, the latest pointer names the
    newest run with its facts, and the one before it is the previous run."""
    import threading

    errors: list[BaseException] = []
    per_writer = 12

    def writer(k: int) -> None:
        try:
            for i in range(per_writer):
                # Every third scan of a writer sees a failing rule: new runs and extended runs interleave.
                verdicts = {("VN-HTTPS", V6): "fail"} if (i + k) % 3 == 0 else {}
                with Session(engine) as s, s.begin():
                    store.record(s, store.portal_by_name(s, portal), result(verdicts=verdicts))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    with Session(engine) as s:
        runs = list(s.scalars(select(Run).order_by(Run.first_at, Run.id)))
        latest = s.get(Latest, 1)
        assert sum(r.scans for r in runs) == 2 * per_writer  # no scan lost
        newest = max(runs, key=lambda r: (r.last_at, r.id))
        assert latest.run_id == newest.id == runs[-1].id
        assert latest.prev_run_id == (runs[-2].id if len(runs) > 1 else None)
        assert (latest.last_at, latest.scans, latest.state_id) == (newest.last_at, newest.scans, newest.state_id)
        for a, b in zip(runs, runs[1:], strict=False):  # runs follow each other, never overlap
            assert a.last_at <= b.first_at
            assert a.state_id != b.state_id or a.evidence_id != b.evidence_id
        row = store.status(s)[0]
        assert row.scans == newest.scans and row.last_scan == newest.last_at


def test_migration_0002_moves_the_latest_pointers_and_back_fills_their_facts(engine, portal):
    """A database of the first schema (pointers on portals) upgraded: every portal's latest row names its newest
    run and the one before with their facts and rule samples; status and /metrics read the same as before."""
    from alembic import command

    from netready.monitor import metrics
    from netready.monitor.db import alembic_config, open_db, upgrade

    with Session(engine) as s, s.begin():
        store.add_portals(s, ["dichvucong.b.gov.vn", "dichvucong.never.gov.vn"], "Bộ B", at=_at(0))
    _scan(engine, portal, result(), 0)
    _scan(engine, portal, result(verdicts={("VN-HTTPS", V6): "fail"}, at=T0 + timedelta(days=1)), 1)
    _scan(engine, "dichvucong.b.gov.vn", result("dichvucong.b.gov.vn"), 1)
    columns = [c.name for c in Latest.__table__.columns]
    with Session(engine) as s:
        before = s.execute(select(Latest.__table__).order_by(Latest.portal_id)).all()
        status_before = store.status(s, at=_at(2))
    assert len(before) == 2 and before[0].prev_run_id is not None and "VN-HTTPS" in before[0].rule_lines
    metrics_before = metrics.render(engine)

    command.downgrade(alembic_config(engine), "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM portals WHERE last_run_id IS NOT NULL")).scalar() == 2
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    upgrade(engine)
    with Session(engine) as s:
        after = s.execute(select(Latest.__table__).order_by(Latest.portal_id)).all()
        assert [dict(zip(columns, r, strict=True)) for r in after] == [dict(zip(columns, r, strict=True))
                                                                      for r in before]
        assert store.status(s, at=_at(2)) == status_before
    fresh = open_db(engine.url.render_as_string(hide_password=False), migrate=False)  # no cached scrape
    try:
        def values(text_: bytes) -> list[str]:  # the expiry days follow the clock
            return [ln for ln in text_.decode().splitlines() if "_expiry_days{" not in ln]

        assert values(metrics.render(fresh)) == values(metrics_before)
    finally:
        fresh.dispose()
