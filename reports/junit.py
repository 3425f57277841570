"""junit.xml: one test suite per rule, one test case per (rule, subject) evaluation, for CI dashboards.

NonCompliant -> ``<failure>``, Error -> ``<error>``, Exempt / NotApplicable -> ``<skipped>``, Compliant -> a plain
test case.  Input strings are untrusted: characters XML 1.0 cannot carry (NUL and other controls, lone
surrogates, U+FFFE/U+FFFF) are stripped and every attribute and text node is escaped, so the file is well-formed
whatever the ARM names contain.  The document is streamed to the file, suite by suite.
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

import pandas as pd

from auditor.fsutil import atomic_open

from .text import as_text

__all__ = ["write_junit", "xml_text", "xml_attr"]

# Everything outside XML 1.0's Char production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]: NUL, C0 controls, lone surrogates, U+FFFE/U+FFFF), plus the "discouraged" DEL and C1
# controls, which XML 1.1 readers reject unescaped.
_INVALID = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                           "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})

_COLUMNS = ("rule_id", "title", "severity", "compliance_state", "resource_id", "resource_name", "message",
            "remediation", "exemption_category", "exemption_justification")


def _s(value: Any) -> str:
    s = as_text(value)
    return _INVALID.sub("", s) if _INVALID.search(s) else s


def xml_text(value: Any) -> str:
    """Character data: invalid XML characters stripped, ``& < >`` escaped."""
    return _s(value).translate(_TEXT_ESC)


def xml_attr(value: Any) -> str:
    """A double-quoted attribute value (without the quotes); newlines and tabs survive attribute normalisation."""
    return _s(value).translate(_ATTR_ESC)


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    return df[name].tolist() if name in df.columns else [""] * len(df)


def _suite_name(rid: str, title: str) -> str:
    return f"{rid} {title}".strip() if title else rid


def _cases(cols: Mapping[str, list[Any]], idx: list[int]) -> Iterator[str]:
    rule, state, res, name = cols["rule_id"], cols["compliance_state"], cols["resource_id"], cols["resource_name"]
    msg, rem, sev = cols["message"], cols["remediation"], cols["severity"]
    cat, just = cols["exemption_category"], cols["exemption_justification"]
    for i in idx:
        st = _s(state[i])
        head = (f'    <testcase classname="{xml_attr(rule[i])}" '
                f'name="{xml_attr(_s(res[i]) or _s(name[i]))}" time="0"')
        if st == "Compliant":
            yield head + "/>\n"
        elif st == "NonCompliant":
            m, r = _s(msg[i]), _s(rem[i])
            body = m + ("\n\nRemediation: " + r if r else "")
            yield (f'{head}>\n      <failure message="{xml_attr(m)}" type="{xml_attr(sev[i]) or "NonCompliant"}">'
                   f"{xml_text(body)}</failure>\n    </testcase>\n")
        elif st == "Exempt":
            c, j = _s(cat[i]), _s(just[i])
            m = f"Exempt ({c or 'no category'})" + (f": {j}" if j else "")
            yield (f'{head}>\n      <skipped message="{xml_attr(m)}">{xml_text(msg[i])}</skipped>\n'
                   f"    </testcase>\n")
        elif st == "NotApplicable":
            m = _s(msg[i])
            yield f'{head}>\n      <skipped message="{xml_attr("NotApplicable" + (": " + m if m else ""))}"/>\n    </testcase>\n'
        else:  # Error, or a state this writer does not know: never a pass
            m = _s(msg[i]) or f"state {st or 'missing'}"
            yield (f'{head}>\n      <error message="{xml_attr(m)}" type="{xml_attr(st or "Error")}">'
                   f"{xml_text(m)}</error>\n    </testcase>\n")


def write_junit(path, findings: pd.DataFrame, meta: dict) -> None:
    """Write ``junit.xml`` to ``path`` atomically."""
    meta = meta or {}
    df = findings if findings is not None else pd.DataFrame()
    cols = {c: _column(df, c) for c in _COLUMNS}
    n = len(df)

    # group row positions by rule, rules in meta order first, then in order of appearance
    groups: dict[str, list[int]] = {}
    for i, rid in enumerate(cols["rule_id"]):
        groups.setdefault(_s(rid), []).append(i)
    titles: dict[str, str] = {}
    severities: dict[str, str] = {}
    order: list[str] = []
    for r in meta.get("rules") or []:
        if isinstance(r, Mapping):
            rid = _s(r.get("id"))
            titles.setdefault(rid, _s(r.get("title")))
            severities.setdefault(rid, _s(r.get("severity")))
            if rid in groups and rid not in order:
                order.append(rid)
    order += [rid for rid in groups if rid not in order]

    state = [_s(s) for s in cols["compliance_state"]]
    known = {"Compliant", "NonCompliant", "Exempt", "NotApplicable"}

    def tally(idx: list[int]) -> tuple[int, int, int]:
        f = e = s = 0
        for i in idx:
            st = state[i]
            if st == "NonCompliant":
                f += 1
            elif st in ("Exempt", "NotApplicable"):
                s += 1
            elif st not in known:
                e += 1
        return f, e, s

    total = tally(list(range(n)))
    tool = meta.get("tool") if isinstance(meta.get("tool"), Mapping) else {}
    stamp = _s(meta.get("generated_at"))
    stamp_attr = f' timestamp="{xml_attr(stamp)}"' if stamp else ""
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write(f'<testsuites name="{xml_attr(_s(tool.get("name")) or "auditor")}" tests="{n}" '
                 f'failures="{total[0]}" errors="{total[1]}" skipped="{total[2]}" time="0">\n')
        for rid in order:
            idx = groups[rid]
            title = titles.get(rid) or _s(cols["title"][idx[0]])
            f, e, s = tally(idx)
            fh.write(f'  <testsuite name="{xml_attr(_suite_name(rid, title))}" tests="{len(idx)}" '
                     f'failures="{f}" errors="{e}" skipped="{s}" time="0"{stamp_attr}>\n')
            if tool:
                fh.write(f'    <properties>\n      <property name="tool" value="{xml_attr(tool.get("name"))}"/>\n'
                         f'      <property name="version" value="{xml_attr(tool.get("version"))}"/>\n'
                         f'      <property name="severity" value="{xml_attr(severities.get(rid) or cols["severity"][idx[0]])}"/>\n'
                         f"    </properties>\n")
            buf: list[str] = []
            for chunk in _cases(cols, idx):
                buf.append(chunk)
                if len(buf) >= 2000:
                    fh.write("".join(buf))
                    buf.clear()
            fh.write("".join(buf))
            fh.write("  </testsuite>\n")
        fh.write("</testsuites>\n")
