"""Pictures of a DNSSEC chain from saved observations: an indented text tree and a DNSViz-style SVG.

Both read only the "dnssec:<name>:chain" observation (and the denial one for NSEC3 facts), so a saved
report can be drawn again offline. The SVG is made by Graphviz `dot -Tsvg`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any
from xml.etree import ElementTree as ET

from netready.model import Observation

COLORS = {"secure": "#1a7f37", "insecure": "#9a6700", "bogus": "#cf222e", "indeterminate": "#6e7781"}
WORDS = {
    "en": {"secure": "secure", "insecure": "insecure", "bogus": "bogus", "indeterminate": "indeterminate",
           "anchor": "trust anchor", "no_ds": "no DS", "keys": "DNSKEY", "matches": "matches", "none": "no match",
           "answers": "answers", "status": "status", "servers": "every server of the portal's zones"},
    "vi": {"secure": "an toàn", "insecure": "không an toàn", "bogus": "sai (bogus)", "indeterminate": "không xác định",
           "anchor": "điểm neo tin cậy", "no_ds": "không có DS", "keys": "DNSKEY", "matches": "khớp",
           "none": "không khớp", "answers": "câu trả lời", "status": "trạng thái",
           "servers": "từng máy chủ của vùng chứa cổng"},
}  # fmt: skip
DIGESTS = {1: "SHA-1", 2: "SHA-256", 3: "GOST", 4: "SHA-384"}


def _chain(observations: list[Observation]) -> Observation | None:
    return next((o for o in observations if o.probe == "dnssec" and o.id.split(":")[2:3] == ["chain"]), None)


def _key_text(k: dict[str, Any]) -> str:
    role = "KSK" if k["sep"] else "ZSK"
    extra = ", revoked" if k["revoked"] else ""
    return f"{k['key_tag']} ({role}, alg {k['algorithm']}, {k['key_bits']} bit{extra})"


def render_chain_text(observations: list[Observation], lang: str = "en") -> str:
    """The chain as an indented tree: each zone, its DS → DNSKEY links, status and reason; then the answers."""
    w = WORDS.get(lang, WORDS["en"])
    chain = _chain(observations)
    if chain is None:
        return "no DNSSEC observation" if lang != "vi" else "không có quan sát DNSSEC"
    d = chain.data
    name = chain.target
    if not d.get("zones"):
        return f"{name}: {w['indeterminate']}: {chain.error or ''}".rstrip()
    lines = [f"{name} — {w['status']}: {w[d['status']]} ({d['reason']})"]
    ta = d["trust_anchor"]
    anchors = [f"DS {x['key_tag']}/{DIGESTS.get(x['digest_type'], x['digest_type'])}" for x in ta["ds"]]
    anchors += [f"DNSKEY {k['key_tag']}" for k in ta["keys"]]
    lines.append(f"{w['anchor']}: {ta['source']} [{', '.join(anchors)}]")
    for depth, z in enumerate(d["zones"]):
        pad = "  " * depth
        lines.append(f"{pad}{z['zone']} [{w[z['status']]}] {z['reason']}")
        for ds in z["ds"]:
            target = f"DNSKEY {ds['matches']}" if ds["matches"] is not None else (ds["problem"] or w["none"])
            digest = DIGESTS.get(ds["digest_type"], str(ds["digest_type"]))
            lines.append(f"{pad}    DS {ds['key_tag']} alg {ds['algorithm']} {digest} → {target}")
        if z["ds_denial"] is not None:
            den = z["ds_denial"]
            n3 = den.get("nsec3")
            extra = f" iterations {n3['iterations']}, salt {n3['salt'] or '-'}" if n3 else ""
            what = den.get("proves") or den.get("reason")
            lines.append(f"{pad}    {w['no_ds']}: {den['kind'].upper()}{extra} → {what}")
        for k in z["dnskeys"]:
            # By identity when the report has it (two keys may share a tag), else by tag (older reports).
            signs = [s for s in z["dnskey_sigs"] if k.get("digest") and s.get("key") == k["digest"]] or [
                s for s in z["dnskey_sigs"] if s["key_tag"] == k["key_tag"] and not (k.get("digest") and s.get("key"))]
            mark = ""
            if signs:
                s = signs[0]
                mark = " signs DNSKEY ✓" if s["valid"] else f" signs DNSKEY ✗ {s['reason']}"
                mark += f" (until {s['expiration']})"
            lines.append(f"{pad}    {w['keys']} {_key_text(k)}{mark}")
    pad = "  " * len(d["zones"])
    for a in d["answers"]:
        recs = ", ".join(a["records"]) or a["rcode"] or "-"
        via = f" (DNAME {a['dname']['owner']} → {a['dname']['target']})" if a.get("dname") else ""
        lines.append(f"{pad}{a['name']} {a['type']} {recs}{via} [{w[a['status']]}] {a['reason']}")
    if d.get("servers"):
        lines.append(w["servers"] + ":")
        for srv in d["servers"]:
            why = "" if srv["status"] == "secure" else f" {srv.get('first') or srv['reason']}"
            lines.append(f"  {srv['ns']} {srv['address']} [{w[srv['status']]}]{why}")
    return "\n".join(lines)


# --- SVG ---------------------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT string literal; real newlines become DOT line breaks."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class _NodeIds:
    """Graphviz node names from counters only: nothing a server or a report file says reaches the DOT source
    outside a quoted label (a key tag spliced into a node name could add attributes such as URL=)."""

    def __init__(self) -> None:
        self._names: dict[tuple[Any, ...], str] = {}

    def _get(self, *key: Any) -> str:
        return self._names.setdefault(key, f"n{len(self._names)}")

    def key(self, zone: int, tag: Any) -> str:
        return self._get("key", zone, tag)

    def ds(self, zone: int, j: int) -> str:
        return self._get("ds", zone, j)

    def nods(self, zone: int) -> str:
        return self._get("nods", zone)

    def answer(self, n: int) -> str:
        return self._get("answer", n)


def chain_dot(observations: list[Observation]) -> str:
    """The Graphviz source: zones as clusters, keys and DS inside, links coloured by status."""
    chain = _chain(observations)
    out = [
        "digraph dnssec {",
        '  rankdir=BT; compound=true; node [fontname="Helvetica" fontsize=10];',
        '  edge [fontname="Helvetica" fontsize=9];',
    ]
    if chain is None or not chain.data.get("zones"):
        why = chain.error if chain is not None else "no DNSSEC observation"
        out.append(f"  err [shape=box label={_q(why)}];")
        out.append("}")
        return "\n".join(out)
    d = chain.data
    zones = d["zones"]
    ids = _NodeIds()
    for i, z in enumerate(zones):
        col = COLORS[z["status"]]
        out.append(f"  subgraph cluster_{int(i)} {{")
        out.append(f"    label={_q(z['zone'] + '  [' + z['status'] + ']')}; color={_q(col)}; fontcolor={_q(col)};")
        out.append('    style="rounded"; fontname="Helvetica";')
        for k in z["dnskeys"]:
            shape = "ellipse" if not k["sep"] else "doublecircle" if i == 0 and d["trust_anchor"]["keys"] else "ellipse"
            pen = 2 if k["sep"] else 1
            label = f"DNSKEY {k['key_tag']}\nalg {k['algorithm']}, {k['key_bits']} bit\n{'KSK' if k['sep'] else 'ZSK'}"
            out.append(f"    {ids.key(i, k['key_tag'])} [shape={shape} penwidth={pen} label={_q(label)}];")
        for j, ds in enumerate(z["ds"]):
            label = f"DS {ds['key_tag']}\n{DIGESTS.get(ds['digest_type'], ds['digest_type'])}"
            out.append(f"    {ids.ds(i, j)} [shape=box style=rounded label={_q(label)}];")
        if not z["ds"] and z["parent"] is not None:
            proof = z["ds_denial"] or {}
            label = f"no DS\n{(proof.get('kind') or 'none').upper()}"
            out.append(f"    {ids.nods(i)} [shape=box style=dashed label={_q(label)}];")
        out.append("  }")
    out.append(f'  anchor [shape=house style=filled fillcolor="#ddf4ff" label={_q("trust anchor")}];')
    for i, z in enumerate(zones):
        col = COLORS[z["status"]]
        for j, ds in enumerate(z["ds"]):
            if ds["matches"] is not None:
                out.append(f"  {ids.ds(i, j)} -> {ids.key(i, ds['matches'])} [color={_q(col)}];")
            else:
                out.append(f"  {ids.ds(i, j)} -> {ids.ds(i, j)} [style=invis];")
            if z["parent"] is None:
                out.append(f"  anchor -> {ids.ds(i, j)} [dir=back color={_q(COLORS['secure'])}];")
            else:
                pi = next((n for n, p in enumerate(zones) if p["zone"] == z["parent"]), None)
                sig = next((s for s in z["ds_sigs"] if s["type"] == "DS"), None)
                if pi is not None and sig is not None:
                    c = COLORS["secure"] if sig["valid"] else COLORS["bogus"]
                    out.append(f"  {ids.ds(i, j)} -> {ids.key(pi, sig['key_tag'])} [color={_q(c)} style=dashed];")
        if not z["ds"] and z["parent"] is not None:
            pi = next((n for n, p in enumerate(zones) if p["zone"] == z["parent"]), None)
            sig = next((s for s in z["ds_sigs"]), None)
            if pi is not None and sig is not None:
                c = COLORS["insecure"] if sig["valid"] else COLORS["bogus"]
                out.append(f"  {ids.nods(i)} -> {ids.key(pi, sig['key_tag'])} [color={_q(c)} style=dashed];")
        for s in z["dnskey_sigs"]:
            c = COLORS["secure"] if s["valid"] else COLORS["bogus"]
            keys = {k["key_tag"] for k in z["dnskeys"]}
            if s["key_tag"] in keys:
                for k in z["dnskeys"]:
                    if k["key_tag"] != s["key_tag"]:
                        out.append(f"  {ids.key(i, k['key_tag'])} -> {ids.key(i, s['key_tag'])} [color={_q(c)}];")
        if z["parent"] is None and d["trust_anchor"]["keys"]:
            for k in d["trust_anchor"]["keys"]:
                out.append(f"  anchor -> {ids.key(i, k['key_tag'])} [dir=back];")
    index = {z["zone"]: i for i, z in enumerate(zones)}
    for n, a in enumerate(d["answers"]):
        col = COLORS[a["status"]]
        recs = "\n".join(a["records"][:4]) or (a["rcode"] or "-")
        label = f"{a['name']} {a['type']}\n{recs}"
        out.append(f"  {ids.answer(n)} [shape=box color={_q(col)} fontcolor={_q(col)} label={_q(label)}];")
        zi = index.get(a["zone"])
        sig = next((s for s in a["sigs"] if s["signer"] == a["zone"]), None)
        if zi is not None and sig is not None and any(k["key_tag"] == sig["key_tag"] for k in zones[zi]["dnskeys"]):
            out.append(f"  {ids.answer(n)} -> {ids.key(zi, sig['key_tag'])} [color={_q(col)}];")
    out.append("}")
    return "\n".join(out)


def chain_svg(observations: list[Observation], timeout: float = 10.0) -> str:
    """SVG of the chain (needs Graphviz `dot`; raises RuntimeError with the reason when it cannot draw)."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz 'dot' not found: install the Debian package graphviz")
    proc = subprocess.run(
        [dot, "-Tsvg"], input=chain_dot(observations).encode(), capture_output=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


# --- inlining: only drawing elements and presentation attributes survive -----------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
SVG_ELEMENTS = {"svg", "g", "title", "polygon", "polyline", "path", "ellipse", "circle", "rect", "line", "text",
                "tspan", "defs"}
SVG_ATTRIBUTES = {"id", "class", "width", "height", "viewBox", "transform", "points", "d", "cx", "cy", "r", "rx",
                  "ry", "x", "y", "x1", "y1", "x2", "y2", "dx", "dy", "fill", "stroke", "stroke-width",
                  "stroke-dasharray", "stroke-opacity", "fill-opacity", "opacity", "font-family", "font-size",
                  "font-weight", "font-style", "text-anchor", "preserveAspectRatio"}
SAFE_VALUE = re.compile(r"^[^<>\"'`]*$")


def _clean_element(el: ET.Element) -> ET.Element | None:
    tag = el.tag.split("}", 1)[-1]
    if tag not in SVG_ELEMENTS:
        return None
    out = ET.Element(tag)
    for name, value in el.attrib.items():
        local = name.split("}", 1)[-1]
        if "}" in name or local not in SVG_ATTRIBUTES or not SAFE_VALUE.match(value):
            continue  # namespaced (xlink:href), event handlers, href/style, anything with markup or quotes
        if "url(" in value.lower() or "javascript:" in value.lower():
            continue
        out.set(local, value)
    out.text = el.text
    for child in el:
        cleaned = _clean_element(child)
        if cleaned is not None:
            cleaned.tail = child.tail
            out.append(cleaned)
        elif child.tag.split("}", 1)[-1] == "a":  # Graphviz wraps URL= nodes in <a>: keep the drawing only
            for grandchild in child:
                kept = _clean_element(grandchild)
                if kept is not None:
                    out.append(kept)
    return out


def sanitize_svg(svg: str) -> str:
    """The <svg> element of Graphviz output rebuilt from an allow-list (issue #15): drawing elements and their
    presentation attributes only, so no <script>, <a href>, <foreignObject>, event handler, external reference
    or style can reach the HTML report, whatever the labels said. Text is re-escaped on the way out.
    Unparsable input gives an empty string (the report then shows no picture)."""
    start = svg.find("<svg")
    if start < 0:
        return ""
    try:
        root = ET.fromstring(svg[start:])
    except ET.ParseError:
        return ""
    cleaned = _clean_element(root)
    if cleaned is None:
        return ""
    cleaned.set("xmlns", SVG_NS)
    return ET.tostring(cleaned, encoding="unicode", short_empty_elements=True)
