"""`netready serve`: the monitor's HTTP service (FastAPI + uvicorn).

- JSON API under /api/v1/ (OpenAPI schema at /api/v1/openapi.json, docs at /api/v1/docs); every request needs a
  token (`Authorization: Bearer nr_...`, made by `netready monitor token`). A read token sees one organisation;
  an admin token sees all and may add portals. A portal of another organisation is "not found", never "forbidden"
  (its existence is not leaked).
- Prometheus metrics at /metrics (netready.monitor.metrics): open to loopback clients; from anywhere else only
  with a token (admin or metrics: every portal; read: its organisation), and refused outright while no token
  exists. Behind a reverse proxy on the same host every client looks local: configure a token and let the proxy
  pass the Authorization header.
The web pages of a later issue mount on the same app (`create_app(engine).mount(...)` or more routers).
"""
# No `from __future__ import annotations` here: FastAPI reads the dependency annotations defined inside
# create_app at run time.

import ipaddress
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready import __version__
from netready.monitor import auth, store
from netready.monitor.db import Organisation, Portal, Run, State

API = "/api/v1"


class ErrorOut(BaseModel):
    detail: str


class OrganisationOut(BaseModel):
    name: str
    portals: int


class PortalStatusOut(BaseModel):
    portal: str = Field(description="ASCII (punycode) name")
    display_name: str
    org: str
    last_scan: int | None = Field(description="UTC seconds since the epoch")
    status: str | None = Field(description="compliant | not-compliant | undetermined | crashed | null (not scanned)")
    score: float | None
    failed_required: list[str]
    cert_days: float | None = Field(description="days until the earliest certificate expires (negative: expired)")
    rrsig_days: float | None = Field(description="days until the earliest RRSIG on the chain expires")
    reachable: bool | None
    changes: list[str] = Field(description="what changed since the previous scan")
    scans: int
    error: str | None


class PortalIn(BaseModel):
    names: list[str] = Field(min_length=1)
    org: str
    every: str = "24h"
    profile: str = "circular32"
    vantages: list[str] = []


class AddedOut(BaseModel):
    added: list[str]
    updated: list[str]


class ScanOut(BaseModel):
    id: int
    portal: str
    view: str = Field(description="local, or merged over vantage points")
    first_scan: int
    last_scan: int
    scans: int = Field(description="identical scans in this run")
    status: str
    score: float | None
    failed_required: list[str]
    error: str | None
    cert_expires: int | None
    rrsig_expires: int | None
    reachable: bool | None
    vantages: list[str]
    evidence: int | None


class FindingOut(BaseModel):
    rule: str
    subject: str | None
    verdict: str
    level: str
    message: dict[str, str] | None = Field(None, description="vi and en, from the stored evidence")


class PeriodOut(BaseModel):
    id: int
    first_scan: int
    last_scan: int
    scans: int
    status: str
    score: float | None
    failed_required: list[str]
    error: str | None
    vantages: list[str]
    evidence: int | None


class ChangeOut(BaseModel):
    at: int
    kind: str = Field(description="status | verdict")
    rule: str | None
    subject: str | None
    from_: str | None = Field(alias="from")
    to: str | None


class HistoryOut(BaseModel):
    portal: str
    display_name: str
    org: str | None
    view: str
    runs: list[PeriodOut]
    changes: list[ChangeOut]


class RuleChangeOut(BaseModel):
    rule: str
    subject: str | None
    from_: str | None = Field(alias="from")
    to: str | None


class PortalChangeOut(BaseModel):
    portal: str
    org: str
    at: int
    from_: str | None = Field(alias="from")
    to: str
    changes: list[RuleChangeOut]


class DiffTotalsOut(BaseModel):
    portals_changed: int
    became: dict[str, int]
    rules_newly_failing: dict[str, int]
    rules_newly_passing: dict[str, int]


class DiffOut(BaseModel):
    since: int
    until: int
    org: str | None
    portals: list[PortalChangeOut]
    totals: DiffTotalsOut


class AlertOut(BaseModel):
    portal: str
    org: str
    kind: str
    key: str
    opened_at: int
    detail: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut, "description": "no or bad token"},
                                           404: {"model": ErrorOut, "description": "not found (or not yours)"}}


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="netready monitor API", version=__version__, openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None,
                  description="Compliance of portals with Circular 32/2017/TT-BTTTT over time (netready monitor).")
    verifier = auth.Verifier()
    bearer = HTTPBearer(auto_error=False)

    def session() -> Any:
        with Session(engine) as s:
            yield s

    SessionDep = Annotated[Session, Depends(session)]

    def principal(s: SessionDep, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                  ) -> auth.Principal:
        who = verifier.verify(s, cred.credentials if cred else None)
        if who is None or who.role == "metrics":
            raise HTTPException(401, "a valid API token is needed (netready monitor token)",
                                headers={"WWW-Authenticate": "Bearer"})
        return who

    Who = Annotated[auth.Principal, Depends(principal)]

    def visible_portal(s: Session, who: auth.Principal, name: str) -> Portal:
        try:
            portal = store.portal_by_name(s, name)
        except store.StoreError:
            raise HTTPException(404, "no such portal") from None
        if not who.sees(s.get(Organisation, portal.org_id).name):
            raise HTTPException(404, "no such portal")
        return portal

    def org_filter(who: auth.Principal, org: str | None) -> str | None:
        if who.org is not None:
            if org and org != who.org:
                raise HTTPException(404, "no such organisation")
            return who.org
        return org

    @app.get(f"{API}/organisations", response_model=list[OrganisationOut], responses=ERRORS)
    def organisations(s: SessionDep, who: Who) -> list[OrganisationOut]:
        rows = s.execute(select(Organisation.name, func.count(Portal.id)).outerjoin(
            Portal, Portal.org_id == Organisation.id).group_by(Organisation.name).order_by(Organisation.name))
        return [OrganisationOut(name=n, portals=c) for n, c in rows if who.sees(n)]

    @app.get(f"{API}/portals", response_model=list[PortalStatusOut], responses=ERRORS)
    def portals(s: SessionDep, who: Who, org: str | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in store.status(s, org_filter(who, org))]

    @app.post(f"{API}/portals", response_model=AddedOut, status_code=201,
              responses={**ERRORS, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}})
    def add_portals(body: PortalIn, s: SessionDep, who: Who) -> AddedOut:
        if who.role != "admin":
            raise HTTPException(403, "adding portals needs an admin token")
        try:
            got = store.add_portals(s, body.names, body.org, body.every, body.profile, body.vantages)
            s.commit()
        except store.StoreError as exc:
            raise HTTPException(422, str(exc)) from None
        return AddedOut(added=got.added, updated=got.updated)

    @app.get(f"{API}/portals/{{name}}", response_model=PortalStatusOut, responses=ERRORS)
    def portal(name: str, s: SessionDep, who: Who) -> dict[str, Any]:
        p = visible_portal(s, who, name)
        return store.status(s, portal=p.name)[0].to_dict()

    @app.get(f"{API}/portals/{{name}}/history", response_model=HistoryOut, responses=ERRORS)
    def history(name: str, s: SessionDep, who: Who) -> dict[str, Any]:
        p = visible_portal(s, who, name)
        return store.history(s, p.name)

    def scan_out(s: Session, run: Run, portal_name: str) -> ScanOut:
        st = s.get(State, run.state_id)
        return ScanOut(id=run.id, portal=portal_name, view=run.view, first_scan=run.first_at, last_scan=run.last_at,
                       scans=run.scans, status=st.status, score=st.score, failed_required=st.failed_required.split(),
                       error=st.error, cert_expires=run.cert_expires, rrsig_expires=run.rrsig_expires,
                       reachable=run.reachable, vantages=run.vantages.split(",") if run.vantages else [],
                       evidence=run.evidence_id)

    @app.get(f"{API}/portals/{{name}}/scans", response_model=list[ScanOut], responses=ERRORS)
    def scans(name: str, s: SessionDep, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100
              ) -> list[ScanOut]:
        p = visible_portal(s, who, name)
        runs = store.runs_of(s, p)[-limit:]
        return [scan_out(s, r, p.name) for r in reversed(runs)]

    def visible_run(s: Session, who: auth.Principal, scan_id: int) -> tuple[Run, Portal]:
        run = s.get(Run, scan_id)
        if run is None:
            raise HTTPException(404, "no such scan")
        p = s.get(Portal, run.portal_id)
        if not who.sees(s.get(Organisation, p.org_id).name):
            raise HTTPException(404, "no such scan")
        return run, p

    @app.get(f"{API}/scans/{{scan_id}}", response_model=ScanOut, responses=ERRORS)
    def scan(scan_id: int, s: SessionDep, who: Who) -> ScanOut:
        run, p = visible_run(s, who, scan_id)
        return scan_out(s, run, p.name)

    @app.get(f"{API}/scans/{{scan_id}}/findings", response_model=list[FindingOut], responses=ERRORS)
    def findings(scan_id: int, s: SessionDep, who: Who) -> list[FindingOut]:
        run, _p = visible_run(s, who, scan_id)
        st = s.get(State, run.state_id)
        rows = store.findings_of(s, [st.finding_set_id]).get(st.finding_set_id, {}) if st.finding_set_id else {}
        messages: dict[tuple[str, str], dict[str, str]] = {}
        if run.evidence_id:
            for f in (store.load_evidence(s, run.evidence_id) or {}).get("findings", []):
                messages.setdefault((f.get("rule_id"), f.get("subject") or ""), f.get("message"))
        return [FindingOut(rule=r, subject=sub or None, verdict=v, level=lv, message=messages.get((r, sub)))
                for (r, sub), (v, lv) in sorted(rows.items())]

    @app.get(f"{API}/scans/{{scan_id}}/report", responses={**ERRORS, 200: {
        "description": "the stored evidence: target, observations, findings and summary as the scan saw them "
                       "(docs/model.md; first seen at this run's first scan)",
        "content": {"application/json": {"schema": {"type": "object"}}}}})
    def report(scan_id: int, s: SessionDep, who: Who) -> dict[str, Any]:
        run, _p = visible_run(s, who, scan_id)
        if not run.evidence_id:
            raise HTTPException(404, "this scan crashed: no evidence")
        return store.load_evidence(s, run.evidence_id) or {}

    @app.get(f"{API}/changes", response_model=DiffOut, responses=ERRORS)
    def changes(s: SessionDep, who: Who, since: str = "7d", org: str | None = None) -> dict[str, Any]:
        try:
            back = store.parse_duration(since)
        except store.StoreError as exc:
            raise HTTPException(422, str(exc)) from None
        return store.diff(s, store.now() - back, org_filter(who, org))

    @app.get(f"{API}/alerts", response_model=list[AlertOut], responses=ERRORS)
    def alerts(s: SessionDep, who: Who, org: str | None = None) -> list[dict[str, Any]]:
        from netready.monitor.alerts import open_alerts

        return open_alerts(s, org_filter(who, org))

    @app.get("/metrics", response_class=Response, include_in_schema=True, responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
    def metrics(request: Request, s: SessionDep,
                cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from netready.monitor.metrics import render

        org = None
        if cred is not None or not _loopback(request.client.host if request.client else None):
            if cred is None and not auth.any_token(s):
                raise HTTPException(403, "/metrics is open only to loopback clients until a token is configured "
                                         "(netready monitor token --metrics)")
            who = verifier.verify(s, cred.credentials if cred else None)
            if who is None:
                raise HTTPException(401, "a valid token is needed for /metrics from this address",
                                    headers={"WWW-Authenticate": "Bearer"})
            org = who.org
        s.close()
        return Response(render(engine, org), media_type=CONTENT_TYPE_LATEST)

    return app


def run_server(engine: Engine, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(engine), host=host, port=port, log_level="warning", proxy_headers=False)
