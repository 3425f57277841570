"""report.html: one self-contained page for a security review.

Everything the page shows is rendered server-side by Jinja2 with autoescape on; the inline script only reads
the DOM (``textContent``) to filter and sort the findings table, so no input-derived text is ever evaluated as
markup or script.  The page fetches nothing: a Content-Security-Policy meta tag allows only the inline style and
script by their SHA-256 hashes (``default-src 'none'``).

Input strings come from ARM (resource names, tags, messages that quote them) and are untrusted: before rendering,
characters that HTML cannot carry (NUL, C0/C1 controls, lone surrogates, non-characters) become U+FFFD and
invisible direction/format controls (RTL override, zero-width ...) are shown as ``[U+202E]`` so a name cannot
visually spoof another.
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from auditor.fsutil import atomic_open

from .text import as_text

__all__ = ["write_html", "render_html", "clean_text"]

SEVERITIES: tuple[str, ...] = ("Critical", "High", "Medium", "Low", "Informational")
STATES: tuple[str, ...] = ("NonCompliant", "Error", "Exempt", "Compliant", "NotApplicable")
#: states listed row by row in the findings table; the others are counted only
LISTED: tuple[str, ...] = ("NonCompliant", "Error", "Exempt")
#: with JS on, big tables show this many (matching) rows until "Show all" is clicked: every row is in the HTML,
#: but laying out 20k rows makes the browser take seconds per filter or sort. Must match report.css.
ROW_LIMIT = 500
VAULT_LIMIT = 200
HEALTHY_DETAIL = 50

_TEMPLATES = Path(__file__).resolve().parent / "templates"

# Characters HTML cannot carry or that are parse errors: C0 controls but TAB/LF/CR, DEL, C1 controls,
# surrogates (a lone one cannot even be encoded as UTF-8), and the BMP non-characters.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
# Invisible bidi and format controls that can make one name look like another.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _show_invisible(m: re.Match) -> str:
    return f"[U+{ord(m.group()):04X}]"


def clean_text(value: Any) -> str:
    """Any cell value -> a string safe to hand to the (escaping) template. None/NaN -> ""."""
    s = as_text(value)
    if _BAD.search(s):
        s = _BAD.sub("\ufffd", s)
    if _INVISIBLE.search(s):
        s = _INVISIBLE.sub(_show_invisible, s)
    return s


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [clean_text(value)] if value else []
    if isinstance(value, Mapping):
        return [clean_text(v) for v in value.values()]
    if isinstance(value, Iterable):
        return [clean_text(v) for v in value if clean_text(v)]
    return [clean_text(value)] if clean_text(value) else []


def _col(df: pd.DataFrame, name: str) -> list[str]:
    if name not in df.columns:
        return [""] * len(df)
    vals = [v if isinstance(v, str) else clean_text(v) for v in df[name].tolist()]
    joined = "\n".join(vals)  # one regex pass over the column: most columns need no cleaning at all
    if _BAD.search(joined) or _INVISIBLE.search(joined):
        return [clean_text(v) for v in vals]
    return vals


def _pct(counts: Mapping[str, int]) -> float | None:
    good = counts.get("Compliant", 0) + counts.get("Exempt", 0)
    den = good + counts.get("NonCompliant", 0) + counts.get("Error", 0)
    return None if den == 0 else 100.0 * good / den


def _fmt_pct(p: float | None) -> str:
    if p is None:
        return "n/a"
    if 99.95 <= p < 100.0:  # never round a non-compliant estate up to 100 %
        return "99.9%"
    return f"{p:.1f}%"


def _pct_class(p: float | None) -> str:
    if p is None:
        return "pna"
    return "pok" if p >= 100.0 else ("pmid" if p >= 80.0 else "pbad")


def _group_counts(df: pd.DataFrame, key: str) -> dict[str, dict[str, int]]:
    """{raw key value: {state: count}} over the whole frame, in first-seen order."""
    if df.empty or key not in df.columns or "compliance_state" not in df.columns:
        return {}
    keys = df[key].astype(object).where(df[key].notna(), "")
    sizes = pd.DataFrame({"k": keys, "s": df["compliance_state"].astype(object)}).groupby(
        ["k", "s"], sort=False, dropna=False).size()
    out: dict[str, dict[str, int]] = {}
    for (k, s), n in sizes.items():
        d = out.setdefault(k, {})
        d[str(s)] = d.get(str(s), 0) + int(n)
    return out


def _count_row(counts: Mapping[str, int]) -> dict[str, Any]:
    p = _pct(counts)
    return {"counts": [counts.get(s, 0) for s in STATES], "total": sum(counts.values()),
            "pct": _fmt_pct(p), "pct_class": _pct_class(p)}


#: longer values are shown in a scrolling box on screen (printed whole), so one 10k-character name
#: cannot blow up a table; the full text stays in the page (search, copy, print).
LONG = 400


def _long(value: str) -> Markup | str:
    if len(value) <= LONG:
        return value
    return Markup('<div class="lv">{}</div>').format(value)  # format() escapes the value


def _last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else ""


def _vault_name(vault_id: str) -> str:
    i = vault_id.lower().find("/providers/microsoft.recoveryservices/vaults/")
    if i >= 0:
        return vault_id[i + len("/providers/microsoft.recoveryservices/vaults/"):].split("/", 1)[0] or vault_id
    return _last_segment(vault_id)


# short per-row class names keep 20k-row tables lean (see report.css)
_STATE_CLASS = {"NonCompliant": "n", "Error": "e", "Exempt": "x", "Compliant": "k", "NotApplicable": "a"}
_SEV_CLASS = {"Critical": "c", "High": "h", "Medium": "m", "Low": "l", "Informational": "i"}


def _state_class(s: str) -> str:
    return _STATE_CLASS.get(s, "u")


def _sev_class(s: str) -> str:
    return _SEV_CLASS.get(s, "u")


# --------------------------------------------------------------------------------------------- chains

def _cell(state: str, text: str, note: str = "") -> dict[str, str]:
    return {"state": state, "text": text, "note": note}


_STATUS_BAD = ("pending", "rejected", "disconnected", "failed", "removed", "deleting")
_STATUS_OK = ("approved", "succeeded")


def _status_state(status: str) -> str:
    """'Approved', 'pe:approved, vault:pending', 'Succeeded' (a storage PE's provisioning state) ..."""
    parts = [p.strip().rsplit(":", 1)[-1].strip() for p in re.split(r"[,;]", status.lower()) if p.strip()]
    if not parts:
        return "bad"
    if any(p.startswith(_STATUS_BAD) for p in parts):
        return "bad"
    return "ok" if all(p in _STATUS_OK for p in parts) else "na"


def _chain_rows(chain: Mapping[str, Any], resolve_used: bool) -> list[dict[str, Any]]:
    """One row per private endpoint FQDN (an endpoint without FQDNs: one row saying so)."""
    rows: list[dict[str, Any]] = []
    for ep in chain.get("endpoints") or []:
        if not isinstance(ep, Mapping):
            continue
        status = clean_text(ep.get("status"))
        in_input = ep.get("in_input", True)
        custom_dns = bool(ep.get("custom_dns"))
        kind = clean_text(ep.get("kind"))
        pe_name = clean_text(ep.get("pe_name")) or _last_segment(clean_text(ep.get("pe_id")))
        if in_input is False:
            pe_cell = _cell("na", pe_name, (status or "status unknown") + " · not in the input")
        else:
            pe_cell = _cell(_status_state(status), pe_name, status or "no status")
        if custom_dns:
            pe_cell["note"] += " · VNet uses custom DNS"
        pe_cell["kind"] = kind
        pe_cell["id"] = clean_text(ep.get("pe_id"))
        fqdns = [f for f in (ep.get("fqdns") or []) if isinstance(f, Mapping)]
        if not fqdns:
            rows.append({"pe": pe_cell, "span": 1, "empty": True,
                         "result": _cell("na" if in_input is False else "bad",
                                         "no FQDNs known" if in_input is not False else "not in the input")})
            continue
        for i, f in enumerate(fqdns):
            rows.append(_fqdn_row(f, pe_cell, len(fqdns) if i == 0 else 0, in_input, custom_dns, resolve_used))
    return rows


def _fqdn_row(f: Mapping[str, Any], pe_cell: dict[str, str], span: int, in_input: Any, custom_dns: bool,
              resolve_used: bool) -> dict[str, Any]:
    """One FQDN's links: expected IP -> zone -> A record -> VNet link (-> resolved), and the verdict."""
    expected = _as_list(f.get("expected_ips"))
    records = _as_list(f.get("record_ips"))
    broken = clean_text(f.get("broken"))
    fq = _cell("ok" if expected else "na", clean_text(f.get("fqdn")),
               ", ".join(expected) if expected else "no expected IP")
    zone, rec, link = _zone_cells(f, expected, records)
    if custom_dns:  # the records may live in the VNet's own DNS servers (DNS-006 speaks)
        zone, rec, link = (_cell("na", c["text"], c["note"]) for c in (zone, rec, link))
    row: dict[str, Any] = {"pe": pe_cell, "span": span, "fqdn": fq,
                           "zone": zone, "record": rec, "link": link, "empty": False}
    if resolve_used:
        resolved = _as_list(f.get("resolved"))
        exp = "expected " + (", ".join(expected) if expected else "—")
        if not resolved:
            row["resolved"] = _cell("bad" if f.get("resolved") is not None else "na",
                                    "no answer" if f.get("resolved") is not None else "not resolved", exp)
        elif expected and not set(resolved) & set(expected):
            row["resolved"] = _cell("bad", ", ".join(resolved), exp)
        else:
            row["resolved"] = _cell("ok", ", ".join(resolved), exp)
    if broken:
        row["result"] = _cell("bad", broken)
    elif any(c["state"] == "bad" for c in (pe_cell, zone, rec, link, row.get("resolved", fq))):
        row["result"] = _cell("bad", "broken")
    elif in_input is False:
        row["result"] = _cell("na", "not in the input")
    elif custom_dns:
        row["result"] = _cell("na", "custom DNS: verify forwarding to 168.63.129.16")
    else:
        row["result"] = _cell("ok", "resolves privately")
    return row


def _zone_cells(f: Mapping[str, Any], expected: list[str], records: list[str]
                ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The private DNS zone, its A record and its link to the endpoint's VNet, each a cell with its state."""
    zone_name = clean_text(f.get("zone_name"))
    if f.get("zone_id"):
        zone = _cell("ok", zone_name, "")
        zone["id"] = clean_text(f.get("zone_id"))
    else:
        zone = _cell("bad", zone_name or "—", "no zone of this name")
    if not f.get("zone_id") and not records:
        rec = _cell("na", "—", "")
    elif not records:
        rec = _cell("bad", "no A record", "")
    elif expected and not set(records) & set(expected):
        rec = _cell("bad", ", ".join(records), "stale: expected " + ", ".join(expected))
    else:
        rec = _cell("ok", ", ".join(records), "")
    linked = f.get("linked")
    if linked is True:
        link = _cell("ok", "linked", "")
    elif linked is False:
        link = _cell("bad", "not linked", "to the PE's VNet")
    else:
        link = _cell("na", "unknown", "")
    return zone, rec, link


_LINK_STATES = ("ok", "bad", "na")


def _workload_rows(chain: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The vault's protected workloads: VM -> VNet -> (same VNet | peered | not reachable) -> linked zones -> NSG
    verdicts for Microsoft Entra ID and for the endpoint IPs; each link a cell with its state."""
    rows: list[dict[str, Any]] = []
    for w in chain.get("workloads") or []:
        if not isinstance(w, Mapping):
            continue
        cells = {}
        for key in ("reach", "zones", "entra", "endpoints"):
            v = w.get(key)
            state, text = (v[0], v[1]) if isinstance(v, (list, tuple)) and len(v) == 2 else ("na", "—")
            cells[key] = _cell(state if state in _LINK_STATES else "na", clean_text(text) or "—")
        name = clean_text(w.get("vm_name")) or _last_segment(clean_text(w.get("vm_id")))
        in_input = w.get("in_input") is not False
        vm = _cell("na" if not in_input else ("bad" if w.get("broken") else "ok"), name, clean_text(w.get("note")))
        vm["id"] = clean_text(w.get("vm_id"))
        vnet = clean_text(w.get("vnet"))
        rows.append({"vm": vm, "vnet": _cell("ok" if vnet else "na", _last_segment(vnet) or "—", vnet), **cells})
    return rows


def _chains_view(chains: Sequence[Mapping[str, Any]] | None, resolve_used: bool
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Detailed chains (every broken one, and the first HEALTHY_DETAIL healthy ones), and the other healthy ones as
    one compact line each, so that a 4,000-vault estate stays a readable, small page."""
    out, compact = [], []
    healthy = 0
    for ch in chains or []:
        if not isinstance(ch, Mapping):
            continue
        vault_id = clean_text(ch.get("vault_id"))
        if ch.get("broken_links") == 0 and not resolve_used:
            healthy += 1
            if healthy > HEALTHY_DETAIL:
                eps = [e for e in ch.get("endpoints") or [] if isinstance(e, Mapping)]
                compact.append({"vault_id": vault_id, "vault_name": clean_text(ch.get("vault_name")) or _vault_name(vault_id),
                                "experience": clean_text(ch.get("experience")), "endpoints": len(eps),
                                "fqdns": sum(len(e.get("fqdns") or []) for e in eps)})
                continue
        rows = _chain_rows(ch, resolve_used)
        workloads = _workload_rows(ch)
        out.append({"vault_id": vault_id,
                    "vault_name": clean_text(ch.get("vault_name")) or _vault_name(vault_id),
                    "subscription_id": clean_text(ch.get("subscription_id")),
                    "experience": clean_text(ch.get("experience")),
                    "experience_evidence": clean_text(ch.get("experience_evidence")),
                    "rows": rows, "workloads": workloads,
                    "broken": sum(1 for r in rows if r["result"]["state"] == "bad")
                    + sum(1 for w in workloads if w["vm"]["state"] == "bad")})
    return out, compact


# --------------------------------------------------------------------------------------------- render

_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                           undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        _ENV.filters["sevc"] = _sev_class
        _ENV.filters["statec"] = _state_class
        _ENV.filters["long"] = _long
    return _ENV


def _asset(name: str, closing: str) -> tuple[Markup, str]:
    """A static, trusted asset (our CSS/JS, never input) and its CSP hash source."""
    text = (_TEMPLATES / name).read_text(encoding="utf-8")
    if closing in text.lower() or "<!--" in text:
        raise ValueError(f"{name} must not contain {closing!r} or '<!--'")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"


def render_html(findings: pd.DataFrame, meta: dict, chains: list[dict]) -> str:
    """The report as a string (``write_html`` writes it atomically)."""
    from .html_context import build_context   # imported here: html_context builds on this module's helpers
    return _env().get_template("report.html.j2").render(**build_context(findings, meta, chains))


def write_html(path, findings: pd.DataFrame, meta: dict, chains: list[dict]) -> None:
    """Write ``report.html`` to ``path`` atomically."""
    text = render_html(findings, meta, chains)
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
