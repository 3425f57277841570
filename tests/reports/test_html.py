"""report.html: escaping of hostile ARM strings, CSP, self-containment, sections."""
from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from .builders import HOSTILE, make_chains, make_findings, make_meta

from auditor.reports.html import ROW_LIMIT, VAULT_LIMIT, clean_text, render_html, write_html

LISTED = ("NonCompliant", "Error", "Exempt")


def escaped(s: str) -> str:
    """How an escaped text node carries ``s`` (markupsafe's entity choice)."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


class TableText(HTMLParser):
    """Collects the text of each cell of the table with a given id (tolerates omitted end tags)."""

    def __init__(self, table_id: str):
        super().__init__(convert_charrefs=True)
        self.table_id, self.depth, self.in_body = table_id, 0, False
        self.rows: list[list[str]] = []
        self.scripts: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            if self.depth or a.get("id") == self.table_id:
                self.depth += 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = True
        elif self.depth == 1 and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and self.in_body and tag == "td":
            self.rows[-1].append("")
        elif tag == "script":
            self._script = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)
        elif self.depth == 1 and self.in_body and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def parse_table(html: str, table_id: str) -> list[list[str]]:
    p = TableText(table_id)
    p.feed(html)
    p.close()
    return [[c.strip("\n") for c in row] for row in p.rows]


@pytest.fixture
def report(tmp_path, findings, meta, chains) -> str:
    path = tmp_path / "report.html"
    write_html(path, findings, meta, chains)
    return path.read_text(encoding="utf-8")


def test_every_listed_resource_id_is_in_the_html_escaped(report, findings):
    listed = findings[findings["compliance_state"].isin(LISTED)]
    for rid in listed["resource_id"]:
        assert escaped(clean_text(rid)) in report, rid[:80]


def test_findings_table_rows_match_the_frame_without_js(report, findings):
    listed = findings[findings["compliance_state"].isin(LISTED)]
    rows = parse_table(report, "findings")
    assert len(rows) == len(listed)
    assert [r[3] for r in rows] == [clean_text(x) for x in listed["resource_id"]]
    assert [r[1] for r in rows] == list(listed["compliance_state"])
    assert [r[0] for r in rows] == list(listed["severity"])
    # Compliant and NotApplicable rows are counted, not listed
    shown = {r[3] for r in rows}
    for rid in findings.loc[findings["compliance_state"] == "Compliant", "resource_id"]:
        if rid not in set(listed["resource_id"]):
            assert rid not in shown


def test_no_markup_from_input_survives(report):
    assert "<script>alert" not in report
    assert "</script><script>" not in report
    assert "<img" not in report
    assert not re.search(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", report)  # no event-handler attribute anywhere
    assert "<!-- --!>" not in report and "<![CDATA[" not in report
    assert report.count("<script") == 1  # ours, at the end
    assert report.count("</script>") == 1
    # the Jinja-looking name is shown literally, not evaluated
    assert "{{ 7*7 }}{% raw %}${x}" in report
    assert escaped(HOSTILE["formula"]) in report
    assert escaped("<script>alert(1)</script>") in report


def test_control_characters_and_bidi_are_neutralised(report):
    assert "\x00" not in report and "\x07" not in report and "\x1b" not in report and "\x85" not in report
    assert not re.search("[\ud800-\udfff]", report)
    assert "\u202e" not in report
    assert "invoice[U+202E]gpj.exe" in report
    assert "nul\ufffdbell\ufffdesc\ufffddel\ufffdnel\ufffdend" in report
    assert "lone\ufffdhalf" in report
    assert "L" * 10_000 in report  # the 10k name is kept whole (wrapped by CSS)


def test_csp_meta_tag_is_strict_and_matches_the_inline_assets(report):
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', report)
    assert m, "CSP meta tag missing"
    csp = m.group(1).replace("&#39;", "'")
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "*" not in csp
    assert report.index("Content-Security-Policy") < report.index("<style") < report.index("<script")
    style = re.search(r"<style>(.*?)</style>", report, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", report, re.S).group(1)

    def h(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
    assert directives["style-src"] == [h(style)]
    assert directives["script-src"] == [h(script)]
    assert ' style="' not in report  # inline style attributes would be blocked by the CSP


def test_no_external_resources(report):
    assert not re.search(r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", report, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", report, re.I)
    assert "@import" not in report
    assert not re.search(r"<(?:iframe|object|embed|base|form[^>]+action)", report, re.I)
    assert "fetch(" not in report and "XMLHttpRequest" not in report


def test_header_summary_errors_and_sections(report, findings):
    assert "2025-11-25T19:00:00Z" in report and "auditor 0.1.0" in report
    # (Compliant + Exempt) / (Compliant + Exempt + NonCompliant + Error)
    c = findings["compliance_state"].value_counts()
    pct = 100 * (c["Compliant"] + c["Exempt"]) / (c["Compliant"] + c["Exempt"] + c["NonCompliant"] + c["Error"])
    assert f'id="compliance-pct">{pct:.1f}%<' in report
    assert 'class="errbox"' in report and "AuthorizationFailed" in report and "(anywhere)" in report
    assert escaped("/subscriptions/00000000-0000-0000-0000-00000000000b/resourceGroups/rg-gamma") in report
    for sid in ("by-rule", "by-subscription", "by-vault", "findings-section", "chains"):
        assert f'id="{sid}"' in report
    rules = parse_table(report, "rules-table")
    assert [r[0] for r in rules] == ["RSV-006", "RSV-001", "DNS-001", "PE-001", "RSV-002", "DNS-006"]
    rsv001 = rules[1]
    # NonCompliant, Error, Exempt, Compliant, NotApplicable, %
    assert rsv001[3:] == ["3", "0", "1", "1", "0", "40.0%"]
    assert "Add the A record &lt;b&gt;now&lt;/b&gt;." in report  # remediation from meta is escaped too
    assert "baseline" not in report.lower().split("<main>")[1].split("findings-section")[0]


def test_resolution_chains_mark_the_broken_links(tmp_path, findings):
    path = tmp_path / "r.html"
    write_html(path, findings, make_meta(findings, resolve_used=True), make_chains())
    html = path.read_text(encoding="utf-8")
    chains = html[html.index('<section id="chains">'):]
    assert "vault-ok" in chains and escaped(HOSTILE["breakout"]) in chains
    assert "no zone linked to the VNet" in chains and "resolves to 52.1.2.3" in chains and "no A record" in chains
    assert "not in the input" in chains
    assert '<td class="bad"><span class="mk"></span>not linked' in chains
    assert 'class="ok"><span class="mk"></span>pe-ok' in chains  # pe:approved, vault:approved
    assert 'class="ok"><span class="mk"></span>pe-bad_ecs1234_blob' in chains  # storage PE: Succeeded
    assert "custom DNS: verify forwarding" in chains
    assert chains.count('<span class="tag badtag">') == 1 and "3 broken" in chains
    assert "stale: expected 10.1.0.5" in chains
    assert "<th>Resolved</th>" in chains and "expected 10.1.0.4" in chains
    assert 'class="bad"><span class="mk"></span>pe-bad' in chains  # Pending connection
    # without --resolve no resolved column
    write_html(path, findings, make_meta(findings), make_chains())
    assert "<th>Resolved</th>" not in path.read_text(encoding="utf-8")


def test_baseline_sections(tmp_path):
    df = make_findings(with_change=True)
    path = tmp_path / "r.html"
    write_html(path, df, make_meta(df, baseline=True), make_chains())
    html = path.read_text(encoding="utf-8")
    assert 'id="baseline"' in html and html.index('id="baseline"') < html.index('id="by-rule"')
    new = parse_table(html, "new-findings")
    expected = df[(df["compliance_state"] == "NonCompliant") & (df["change"] == "new")]
    assert [r[2] for r in new] == [clean_text(x) for x in expected["resource_id"]]
    resolved = parse_table(html, "resolved-findings")
    assert len(resolved) == 1 and resolved[0][1] == "PE-001"
    assert 'id="f-change"' in html
    # what the CLI passes without --baseline: no baseline section
    df = make_findings()
    write_html(path, df, {**make_meta(df), "resolved": [], "baseline": None}, [])
    assert 'id="baseline"' not in path.read_text(encoding="utf-8")


def test_tolerates_minimal_meta_and_empty_frame(tmp_path):
    path = tmp_path / "r.html"
    write_html(path, pd.DataFrame(), {}, [])
    html = path.read_text(encoding="utf-8")
    assert "n/a" in html and "No read errors" in html and "Nothing NonCompliant" in html
    df = make_findings().drop(columns=["exemption_category", "exemption_justification", "remediation"])
    df.loc[0, "message"] = None
    df.loc[1, "vault_id"] = float("nan")
    write_html(path, df, {"summary": {"compliance_pct": None}, "tool": "x"}, None)
    assert 'id="compliance-pct">29.4%<' in path.read_text(encoding="utf-8")  # from the frame itself
    write_html(path, pd.DataFrame(), {"summary": {"compliance_pct": 50}}, [])
    assert 'id="compliance-pct">50.0%<' in path.read_text(encoding="utf-8")  # no states: the engine's figure


def test_never_rounds_up_to_100(findings):
    df = pd.DataFrame({"rule_id": ["R"] * 2001, "severity": ["High"] * 2001,
                       "compliance_state": ["Compliant"] * 2000 + ["NonCompliant"],
                       "resource_id": [f"/x/{i}" for i in range(2001)]})
    assert 'id="compliance-pct">99.9%<' in render_html(df, {}, [])


def test_atomic_write_leaves_no_temp_files(tmp_path, findings, meta, chains):
    write_html(tmp_path / "report.html", findings, meta, chains)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_css_row_limits_match_the_python_constants(report):
    assert f"#findings:not(.ready)>tbody>tr:nth-child(n+{ROW_LIMIT + 1})" in report
    assert f"#vaults-table:not(.ready)>tbody>tr:nth-child(n+{VAULT_LIMIT + 1})" in report
    assert f'data-limit="{ROW_LIMIT}"' in report and f'data-limit="{VAULT_LIMIT}"' in report
