"""The trend section of report.html, from the run history (``meta["trend"]``, auditor/history.py).

The chart is an inline SVG drawn here, server-side: NonCompliant findings by severity as stacked bars (left axis)
and compliance % as a line (right axis, 0-100), one slot per run. Colours are SVG presentation attributes, never a
``style`` attribute, so the page's Content-Security-Policy stays as strict as it is (no 'unsafe-inline', nothing
fetched). Every text in it is escaped; the numbers are formatted by us.
"""
from __future__ import annotations

from typing import Any, Mapping

from markupsafe import Markup, escape

SEVERITIES = ("Critical", "High", "Medium", "Low", "Informational")
COLOURS = {"Critical": "#6f1d92", "High": "#b3261e", "Medium": "#d46b08", "Low": "#f0c000", "Informational": "#9fb4cc"}
LINE = "#0550ae"
OPEN_LIMIT = 200
W, H = 820, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 34, 58


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def _nice_max(n: float) -> int:
    if n <= 5:
        return 5
    for step in (1, 2, 2.5, 5):
        for mag in (1, 10, 100, 1000, 10000, 100000, 1000000):
            top = step * mag
            if top >= n and top / 5 == int(top / 5):
                return int(top)
    return int(n)


def _f(x: float) -> str:
    """1 decimal at most, no trailing zero: 12, 12.5, 0."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def chart(runs: list[Mapping[str, Any]]) -> Markup:
    """The SVG for ``runs`` (oldest first)."""
    n = len(runs)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    totals = [sum(int((r.get("noncompliant_by_severity") or {}).get(s, 0)) for s in SEVERITIES) for r in runs]
    ymax = _nice_max(max(totals or [0]))
    slot = pw / max(n, 1)
    bar = max(min(slot * 0.6, 42), 2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="trend-chart" viewBox="0 0 {W} {H}" width="{W}" '
           f'height="{H}" role="img" aria-labelledby="trend-chart-title">',
           f'<title id="trend-chart-title">Compliance and NonCompliant findings by severity over the last {n} '
           f'run{"" if n == 1 else "s"}</title>',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>']
    # grid and axes
    for k in range(6):
        y = TOP + ph - ph * k / 5
        out.append(f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + pw}" y2="{_f(y)}" stroke="#e3e6ea" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{_f(y + 4)}" text-anchor="end" font-size="11" fill="#5c6470">'
                   f'{_f(ymax * k / 5)}</text>')
        out.append(f'<text x="{LEFT + pw + 6}" y="{_f(y + 4)}" font-size="11" fill="{LINE}">{20 * k}%</text>')
    out.append(f'<text x="{LEFT - 40}" y="{TOP - 12}" font-size="11" fill="#5c6470">NonCompliant</text>')
    out.append(f'<text x="{LEFT + pw + 56}" y="{TOP - 12}" text-anchor="end" font-size="11" fill="{LINE}">'
               f'Compliance</text>')
    # bars
    every = max(1, -(-n // 12))
    for i, r in enumerate(runs):
        cx = LEFT + slot * (i + 0.5)
        y = TOP + ph
        sev = r.get("noncompliant_by_severity") or {}
        when = escape(str(r.get("started_at") or ""))
        for s in reversed(SEVERITIES):   # Informational at the bottom, Critical on top
            v = int(sev.get(s, 0))
            if not v:
                continue
            h = ph * v / ymax
            y -= h
            out.append(f'<rect class="bar" data-severity="{s}" data-run="{int(r.get("run_id") or 0)}" '
                       f'x="{_f(cx - bar / 2)}" y="{_f(y)}" width="{_f(bar)}" height="{_f(h)}" '
                       f'fill="{COLOURS[s]}"><title>{when}: {v} {s}</title></rect>')
        if i % every == 0 or i == n - 1:
            label = escape(str(r.get("started_at") or "")[:10])
            out.append(f'<text x="{_f(cx)}" y="{TOP + ph + 16}" text-anchor="middle" font-size="10.5" '
                       f'fill="#5c6470">{label}</text>')
    # the compliance line
    pts = []
    for i, r in enumerate(runs):
        p = _num(r.get("compliance_pct"))
        if p is not None:
            pts.append((LEFT + slot * (i + 0.5), TOP + ph - ph * max(0.0, min(p, 100.0)) / 100, p, r))
    if len(pts) > 1:
        out.append('<polyline id="trend-line" fill="none" stroke="' + LINE + '" stroke-width="2.5" points="'
                   + " ".join(f"{_f(x)},{_f(y)}" for x, y, _, _ in pts) + '"/>')
    for x, y, p, r in pts:
        out.append(f'<circle class="pt" cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{LINE}">'
                   f'<title>{escape(str(r.get("started_at") or ""))}: {_f(p)}% compliant</title></circle>')
    # legend
    lx = LEFT
    ly = H - 18
    for s in SEVERITIES:
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLOURS[s]}"/>'
                   f'<text x="{lx + 14}" y="{ly}" font-size="11" fill="#1b1f24">{s}</text>')
        lx += 14 + 7 * len(s) + 18
    out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="{LINE}" stroke-width="2.5"/>'
               f'<text x="{lx + 22}" y="{ly}" font-size="11" fill="#1b1f24">Compliance %</text>')
    out.append("</svg>")
    return Markup("".join(out))


def trend_view(trend: Any, clean) -> dict | None:
    """The template's view of ``meta["trend"]``, or None when there is no history."""
    if not isinstance(trend, Mapping) or not trend.get("runs"):
        return None
    runs = [r for r in trend["runs"] if isinstance(r, Mapping)]
    rows = []
    for r in runs:
        sev = r.get("noncompliant_by_severity") or {}
        p = _num(r.get("compliance_pct"))
        rows.append({"run_id": int(r.get("run_id") or 0), "at": clean(r.get("started_at")),
                     "pct": "n/a" if p is None else f"{_f(p)}%", "nc": int(r.get("noncompliant") or 0),
                     "sev": [int(sev.get(s, 0)) for s in SEVERITIES], "new": int(r.get("new") or 0),
                     "resolved": int(r.get("resolved") or 0)})
    last = rows[-1]
    open_rows = []
    for o in trend.get("open") or []:
        if isinstance(o, Mapping):
            age = _num(o.get("age_days"))
            open_rows.append({"severity": clean(o.get("severity")), "rule_id": clean(o.get("rule_id")),
                              "resource_id": clean(o.get("resource_id")), "first_seen": clean(o.get("first_seen")),
                              "age": "" if age is None else _f(age)})
    mttr = trend.get("mttr") if isinstance(trend.get("mttr"), Mapping) else {}
    return {"svg": chart(runs), "runs": rows[::-1], "severities": SEVERITIES, "previous": len(rows) > 1,
            "new": last["new"], "resolved": last["resolved"], "open": open_rows, "open_limit": OPEN_LIMIT,
            "mttr_rule": [{"key": clean(m.get("rule_id")), "n": int(m.get("resolved") or 0),
                           "days": _f(_num(m.get("mean_days")) or 0.0)} for m in mttr.get("by_rule") or []],
            "mttr_sev": [{"key": clean(m.get("severity")), "n": int(m.get("resolved") or 0),
                          "days": _f(_num(m.get("mean_days")) or 0.0)} for m in mttr.get("by_severity") or []]}
