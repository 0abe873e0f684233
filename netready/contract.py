"""Contract clauses for hosting / ISP / DNS hosting contracts, and verification of a provider against them.

- `contract_clauses(scenario, service, lang)` -> Document of the clauses (md/html/docx/pdf via write_clauses).
- `verify_contract(spec_path, settings)` -> ContractReport: probes the spec's names with netready.scan, maps
  each clause to the verdicts of its rules (and expected vs found addresses), keeps the raw report, the trust
  anchor and CA used, and a SHA-256 over the evidence JSON (`evidence_bytes()`; see docs/contract.md).

An "error" verdict (the check could not run, or is not implemented yet) makes a clause "not-verified":
it is never taken as met.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from netready import __version__, messages, resources
from netready.contract_spec import SERVICE_KINDS, ContractSpec, SpecError, load_spec
from netready.docs_out.blocks import Document, Heading, Para, Table
from netready.docs_out.writers import FORMATS, html_to_pdf, render_html, render_md, write_document
from netready.model import ProbeSettings, Report, utc_now
from netready.render import VERDICT_WORDS
from netready.rules import catalogue
from netready.templating import get_template

SCENARIOS = ("outsourced", "idc")
SERVICES = ("web", "dns", "both")
REPORT_FORMATS = ("html", "json", "pdf")
EVIDENCE_FORMAT = "netready-contract-evidence/1"
STATUSES = ("met", "warn", "not-met", "not-verified", "manual")
MD_TEMPLATE, HTML_TEMPLATE = "contract/clauses.md.j2", "contract/clauses.html.j2"

__all__ = ["ContractReport", "SpecError", "clause_catalogue", "contract_clauses", "not_contractual",
           "rules_without_clause", "verify_contract",
           "render_contract_report", "write_contract_report", "write_clauses", "evidence_sha256"]


class ContractError(ValueError):
    """Bad arguments to the contract functions."""


@dataclass(frozen=True)
class Clause:
    id: str
    services: tuple[str, ...]
    scenarios: tuple[str, ...]
    rules: tuple[str, ...]
    title: dict[str, str]
    text: dict[str, str]
    addresses: bool = False
    optional: bool = False  # in force only when a SPEC lists it ("clauses: all" leaves it out)
    demands_pass: bool = False  # an "info" verdict of its rules is not enough: the clause asks for the thing itself


@cache
def _clause_data() -> dict[str, Any]:
    return yaml.safe_load(resources.read_text("data", "clauses.yaml"))


@cache
def clause_catalogue() -> dict[str, Clause]:
    raw = _clause_data()
    rules = catalogue()
    out: dict[str, Clause] = {}
    for c in raw["clauses"]:
        unknown = [r for r in c.get("rules", []) if r not in rules]
        if unknown:
            raise ContractError(f"clauses.yaml: clause {c['id']}: unknown rule id(s) {unknown}")
        out[c["id"]] = Clause(id=c["id"], services=tuple(c["services"]), scenarios=tuple(c["scenarios"]),
                              rules=tuple(c.get("rules", [])), title=c["title"], text=c["text"],
                              addresses=bool(c.get("addresses")), optional=bool(c.get("optional")),
                              demands_pass=bool(c.get("demands_pass")))
    return out


@cache
def not_contractual() -> dict[str, dict[str, str]]:
    """Catalogue rules that are no provider's duty, each with its reason (vi/en), from clauses.yaml."""
    out = dict(_clause_data().get("not_contractual") or {})
    unknown = sorted(set(out) - set(catalogue()))
    if unknown:
        raise ContractError(f"clauses.yaml: not_contractual: unknown rule id(s) {unknown}")
    return out


def rules_without_clause() -> list[str]:
    """Catalogue rules that no clause decides and that are not marked not contractual (should be none)."""
    covered = {r for c in clause_catalogue().values() for r in c.rules} | set(not_contractual())
    return [rid for rid in catalogue() if rid not in covered]


def select_clauses(scenario: str, service: str) -> list[Clause]:
    if scenario not in SCENARIOS:
        raise ContractError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if service not in SERVICES:
        raise ContractError(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    kinds = set(SERVICE_KINDS) if service == "both" else {service}
    return [c for c in clause_catalogue().values() if scenario in c.scenarios and kinds & set(c.services)]


# ---------------------------------------------------------------- clause documents

L: dict[str, dict[str, str]] = messages.section("contract", "clauses")  # data/messages.yaml


def _l(key: str, lang: str, **kw: Any) -> str:
    text = L[key][lang]
    return text.format(**kw) if kw else text


def contract_clauses(scenario: str = "outsourced", service: str = "both", lang: str = "vi") -> Document:
    """The clauses for a contract of this scenario and service, each with its measurable acceptance test."""
    if lang not in ("vi", "en"):
        raise ContractError(f"unknown language {lang!r}; choose vi or en")
    clauses = select_clauses(scenario, service)
    rules = catalogue()
    doc = Document(title=_l("title", lang), subtitle=_l("subtitle", lang), lang=lang,
                   meta=[(_l("scenario", lang), _l(f"sc_{scenario}", lang)),
                         (_l("service", lang), _l(f"sv_{service}", lang))],
                   footer=_l("footer", lang))
    for n, c in enumerate(clauses, 1):
        doc.add(Heading(1, f"{_l('article', lang)} {n}. {c.title[lang]} [{c.id}]"), Para(c.text[lang]))
        if c.optional:
            doc.add(Para(_l("optional_note", lang, id=c.id), "note"))
        if c.rules:
            doc.add(Para(f"{_l('acceptance', lang)}: " + _l("accept_rules", lang, rules=", ".join(c.rules))),
                    Para(f"netready contract verify SPEC.yml   # {c.id}\n"
                         f"netready check <{'tên' if lang == 'vi' else 'name'}> --profile circular32 -f json", "code"))
            if c.addresses:
                doc.add(Para(_l("accept_addr", lang)))
            if c.demands_pass:
                doc.add(Para(_l("accept_demands_pass", lang)))
        else:
            doc.add(Para(f"{_l('acceptance', lang)}: {_l('accept_manual', lang)}", "note"))
    doc.add(Heading(1, _l("s_map", lang)))
    rows = []
    for c in clauses:
        for rid in c.rules or ("—",):
            rule = rules.get(rid)
            rows.append([c.id, rid, rule.text("passes_when", lang) if rule else _l("accept_manual", lang)])
    doc.add(Table([_l("h_clause", lang), _l("h_rules", lang), _l("h_pass", lang)], rows))
    # every other rule of the catalogue, so that a reader sees why no clause asks for it
    in_doc = {r for c in clauses for r in c.rules}
    reasons = not_contractual()
    others = [[rid, reasons[rid][lang] if rid in reasons else _l("other_clause", lang)]
              for rid in catalogue() if rid not in in_doc]
    if others:
        doc.add(Heading(1, _l("s_not_contractual", lang)),
                Table([_l("h_rules", lang), _l("h_why_not", lang)], others))
    doc.add(Heading(1, _l("s_verify", lang)), Para(_l("verify_text", lang)),
            Para(f"netready contract verify SPEC.yml --lang {lang} -f pdf -o nghiem-thu.pdf\n"
                 f"netready contract verify SPEC.yml -f json -o evidence.json && sha256sum evidence.json", "code"))
    return doc


def write_clauses(doc: Document, fmt: str, path: str | Path) -> Path:
    if fmt not in FORMATS:
        raise ContractError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return write_document(doc, fmt, path, MD_TEMPLATE, HTML_TEMPLATE)


def render_clauses(doc: Document, fmt: str = "md") -> str:
    if fmt == "md":
        return render_md(doc, MD_TEMPLATE)
    if fmt == "html":
        return render_html(doc, HTML_TEMPLATE)
    raise ContractError(f"render_clauses gives md or html; use write_clauses for {fmt!r}")


# ---------------------------------------------------------------- verification


def canonical_json(data: Any) -> bytes:
    """The exact bytes that are hashed: UTF-8 JSON, keys sorted, no spaces, non-ASCII kept, no trailing newline."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def evidence_sha256(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _file_facts(path: str | None, keep_text: bool) -> dict[str, Any] | None:
    if not path:
        return None
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        return {"path": str(p), "error": f"cannot read: {exc.strerror or exc}"}
    facts: dict[str, Any] = {"path": str(p), "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
    if keep_text:
        facts["text"] = raw.decode("utf-8", "replace")
    return facts


def _ca_facts(path: str | None) -> dict[str, Any]:
    facts = _file_facts(path, keep_text=False)
    if facts is None:
        return {"path": None, "note": "system trust store"}
    if "sha256" in facts:
        from cryptography import x509
        from cryptography.hazmat.primitives.hashes import SHA256

        try:
            certs = x509.load_pem_x509_certificates(Path(path).read_bytes())  # type: ignore[arg-type]
            facts["subjects"] = [c.subject.rfc4514_string() for c in certs]
            facts["fingerprints_sha256"] = [c.fingerprint(SHA256()).hex() for c in certs]
        except ValueError as exc:
            facts["error"] = f"not a PEM bundle: {exc}"
    return facts


def trust_facts(settings: ProbeSettings) -> dict[str, Any]:
    """What the verdicts relied on: trust anchor (full text), CA bundle (subjects), root hints, resolvers."""
    return {
        "trust_anchor": _file_facts(settings.trust_anchor, keep_text=True)
        or {"path": None, "note": "built-in root trust anchor"},
        "ca_file": _ca_facts(settings.ca_file),
        "root_hints": _file_facts(settings.root_hints, keep_text=False),
        "resolvers": list(settings.resolvers),
        "lab": settings.lab,
    }


def _address_checks(spec: ContractSpec, report: Report) -> list[dict[str, Any]]:
    by_name = {t.name: t for t in report.targets}
    out = []
    for idx, service in enumerate(spec.services):
        for name in service.names:
            target = by_name.get(name)
            for family, expected in (("ipv4", service.expected_ipv4), ("ipv6", service.expected_ipv6)):
                if expected is None:
                    continue
                found = sorted(getattr(target, family)) if target else []
                missing = sorted(set(expected) - set(found))
                unexpected = sorted(set(found) - set(expected))
                if target is None or (target.error and not target.addresses):
                    status = "error"
                else:
                    status = "pass" if not missing and not unexpected else "fail"
                out.append({"service": idx, "kind": service.kind, "name": name, "family": family,
                            "expected": sorted(expected), "found": found, "missing": missing,
                            "unexpected": unexpected, "status": status,
                            "error": target.error if target and target.error else None})
    return out


def _clause_result(clause: Clause, spec: ContractSpec, report: Report,
                   addresses: list[dict[str, Any]]) -> dict[str, Any]:
    names: list[str] = []
    for s in spec.services:
        if s.kind in clause.services:
            names.extend(n for n in s.names if n not in names)
    ascii_of = {t.name: t.ascii_name for t in report.targets}
    checks: list[dict[str, Any]] = []
    if clause.rules:
        for name in names:
            target = ascii_of.get(name, name)
            for rid in clause.rules:
                found = [f for f in report.findings if f.target == target and f.rule_id == rid]
                if not found:
                    checks.append({"name": name, "rule_id": rid, "subject": None, "verdict": "error", "level": "",
                                   "message": {"en": "no finding for this rule", "vi": "không có kết quả cho quy tắc"},
                                   "evidence": []})
                for f in found:
                    checks.append({"name": name, "rule_id": rid, "subject": f.subject, "verdict": f.verdict,
                                   "level": f.level, "message": f.message, "evidence": list(f.evidence)})
    # expected addresses of a name bind every address clause about that name, whichever service gave them
    addr = [a for a in addresses if clause.addresses and a["name"] in names]
    verdicts = [c["verdict"] for c in checks] + [a["status"] for a in addr]
    if not clause.rules:
        status = "manual"
    elif "fail" in verdicts or (clause.demands_pass and "info" in verdicts):
        status = "not-met"
    elif "error" in verdicts or not verdicts:
        status = "not-verified"
    elif "warn" in verdicts:
        status = "warn"
    else:
        status = "met"
    return {"id": clause.id, "title": clause.title, "text": clause.text, "services": list(clause.services),
            "rules": list(clause.rules), "names": names, "status": status, "checks": checks, "addresses": addr}


@dataclass
class ContractReport:
    """The evidence of one verification run. `evidence` is exactly what the SHA-256 covers."""

    evidence: dict[str, Any]

    @property
    def sha256(self) -> str:
        return evidence_sha256(self.evidence)

    def evidence_bytes(self) -> bytes:
        return canonical_json(self.evidence)

    @property
    def clauses(self) -> list[dict[str, Any]]:
        return self.evidence["clauses"]

    def status_of(self, clause_id: str) -> str:
        return next(c["status"] for c in self.clauses if c["id"] == clause_id)

    def exit_code(self) -> int:
        """0 every measured clause met (warnings allowed), 1 some clause not met, 2 some clause not verified."""
        statuses = {c["status"] for c in self.clauses}
        if "not-met" in statuses:
            return 1
        return 2 if "not-verified" in statuses else 0

    @classmethod
    def from_bytes(cls, data: bytes) -> ContractReport:
        return cls(json.loads(data.decode("utf-8")))


def build_contract_report(spec: ContractSpec, report: Report, settings: ProbeSettings, profile_name: str,
                          started: str, finished: str) -> ContractReport:
    """Pure: the evidence from a spec and a probe report (no network)."""
    addresses = _address_checks(spec, report)
    catalogue_ = clause_catalogue()
    clauses = [_clause_result(catalogue_[cid], spec, report, addresses) for cid in spec.clauses]
    counts = {s: sum(1 for c in clauses if c["status"] == s) for s in STATUSES}
    evidence = {
        "format": EVIDENCE_FORMAT,
        "tool_version": __version__,
        "started": started,
        "finished": finished,
        "contract": spec.contract,
        "scenario": spec.scenario,
        "profile": profile_name,
        "spec": {"path": spec.path, "sha256": hashlib.sha256(spec.text.encode("utf-8")).hexdigest(),
                 "text": spec.text, "parsed": spec.to_dict()},
        "trust": trust_facts(settings),
        "settings": settings.to_dict(),
        "addresses": addresses,
        "clauses": clauses,
        "summary": counts,
        "report": report.to_dict(),
    }
    # a round trip through the canonical bytes makes the in-memory evidence equal to what a reader re-parses
    return ContractReport(json.loads(canonical_json(evidence)))


def verify_contract(spec_path: str | Path, settings: ProbeSettings, profile: str | None = None,
                    concurrency: int = 8) -> ContractReport:
    """Probe what the spec names and judge each clause in force. Raises SpecError (with a line) on a bad spec."""
    from netready.profiles import load_profile
    from netready.scan import scan

    spec = load_spec(spec_path, clause_catalogue())
    profile_ref = profile or spec.profile or ("lab" if settings.lab else "circular32")
    prof = load_profile(profile_ref)
    started = utc_now()
    report = scan(spec.names(), settings, prof, concurrency=concurrency)
    return build_contract_report(spec, report, settings, prof.name, started, utc_now())


# ---------------------------------------------------------------- rendering the evidence

R: dict[str, dict[str, str]] = messages.section("contract", "evidence")  # data/messages.yaml
STATUS_WORDS: dict[str, dict[str, str]] = messages.section("contract", "status")


def render_contract_html(cr: ContractReport, lang: str = "vi") -> str:
    return get_template("contract/evidence.html.j2").render(
        ev=cr.evidence, sha256=cr.sha256, canonical=cr.evidence_bytes().decode("utf-8"), lang=lang,
        t={k: v[lang] for k, v in R.items()}, status_words=STATUS_WORDS[lang], verdicts=VERDICT_WORDS[lang])


def render_contract_report(cr: ContractReport, fmt: str = "html", lang: str = "vi") -> bytes:
    """json: the canonical evidence bytes (what the hash covers); html; pdf (WeasyPrint)."""
    if fmt == "json":
        return cr.evidence_bytes()
    if fmt == "html":
        return render_contract_html(cr, lang).encode("utf-8")
    if fmt == "pdf":
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            html_to_pdf(render_contract_html(cr, lang), tmp.name)
            return Path(tmp.name).read_bytes()
    raise ContractError(f"unknown report format {fmt!r}; choose one of {', '.join(REPORT_FORMATS)}")


def write_contract_report(cr: ContractReport, fmt: str, path: str | Path, lang: str = "vi") -> Path:
    path = Path(path)
    if fmt == "pdf":
        html_to_pdf(render_contract_html(cr, lang), path)
    else:
        path.write_bytes(render_contract_report(cr, fmt, lang))
    return path


def clause_summary_rows(cr: ContractReport, lang: str = "vi") -> list[list[str]]:
    """Rows (clause, status, rules) for a terminal table in the CLI."""
    return [[c["id"], STATUS_WORDS[lang][c["status"]], ", ".join(c["rules"]) or "—"] for c in cr.clauses]


__all__ += ["ContractError", "build_contract_report", "canonical_json", "clause_summary_rows",
            "select_clauses", "render_clauses"]
