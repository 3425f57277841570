"""junit.xml: one test suite per rule, one test case per (rule, subject) evaluation, for CI dashboards.

NonCompliant -> ``<failure>``, Error -> ``<error>``, Exempt / NotApplicable -> ``<skipped>``, Compliant -> a plain
test case.  Input strings are untrusted: characters XML 1.0 cannot carry (NUL and other controls, lone
surrogates, U+FFFE/U+FFFF) are stripped and every attribute and text node is escaped, so the file is well-formed
whatever the ARM names contain.  The document is streamed to the file, suite by suite.
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import islice
from typing import Any, Iterable, Iterator, Mapping

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


# the ASCII characters _INVALID matches (C0 controls but TAB, LF, CR; DEL), as bytes
_INVALID_ASCII = bytes([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
_BLOCK = 4096  # cells joined into one string at a time: buffers of this size are reused, not page-faulted afresh


def _joined(values: list, sep: str = "") -> Iterator[str]:
    for start in range(0, len(values), _BLOCK):
        yield sep.join(values[start:start + _BLOCK])


def _has_invalid(text: str) -> bool:
    """_INVALID.search(text), faster on ASCII text (a bytes.translate instead of a regex scan)."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw.translate(None, _INVALID_ASCII)) != len(raw)
    return _INVALID.search(text) is not None


def _texts(values: list[Any]) -> list[str]:
    """``[_s(v) for v in values]``, a column at a time: the column is scanned in a few joined blocks, and only a
    column that holds a character to strip gets per-cell work."""
    try:  # every block, not any(): a non-str cell further on must still be seen
        invalid = True in list(map(_has_invalid, _joined(values)))
    except TypeError:  # a missing or non-str cell
        values = [as_text(v) for v in values]
        invalid = True in list(map(_has_invalid, _joined(values)))
    if invalid:
        return [_INVALID.sub("", v) if _INVALID.search(v) else v for v in values]
    return values


def _escaped(texts: list[str], attr: bool) -> list[str]:
    """``[t.translate(_ATTR_ESC if attr else _TEXT_ESC) for t in texts]`` for texts from ``_texts`` (so without
    NUL): blocks of the column joined with NUL, escaped by a few str.replace ('&' first), and split again."""
    special = '&<>"\n\r\t' if attr else "&<>"
    if not any(c in joined for joined in _joined(texts, "\0") for c in special):
        return texts
    out: list[str] = []
    for joined in _joined(texts, "\0"):
        joined = joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if attr:
            joined = (joined.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
                      .replace("\t", "&#9;"))
        out += joined.split("\0")
    return out


def _suite_name(rid: str, title: str) -> str:
    return f"{rid} {title}".strip() if title else rid


class _Columns:
    """The per-case columns, sanitised (``s_*``), escaped for an attribute (``a_*``) or for text (``t_*``)."""

    def __init__(self, cols: Mapping[str, list[Any]]):
        self.state = _texts(cols["compliance_state"])
        self.rule = _texts(cols["rule_id"])
        self.a_rule = _escaped(self.rule, True)
        self.a_who = _escaped([r or m for r, m in zip(_texts(cols["resource_id"]), _texts(cols["resource_name"]))],
                              True)
        self.s_msg = _texts(cols["message"])
        self.a_msg = _escaped(self.s_msg, True)
        self.t_msg = _escaped(self.s_msg, False)
        self.s_rem = _texts(cols["remediation"])
        self.t_rem = _escaped(self.s_rem, False)
        self.a_sev = _escaped(_texts(cols["severity"]), True)
        self.a_cat = _escaped(_texts(cols["exemption_category"]), True)
        self.a_just = _escaped(_texts(cols["exemption_justification"]), True)


def _cases(c: _Columns, idx: list[int]) -> Iterator[str]:
    state, a_rule, a_who = c.state, c.a_rule, c.a_who
    s_msg, a_msg, t_msg, s_rem, t_rem = c.s_msg, c.a_msg, c.t_msg, c.s_rem, c.t_rem
    a_sev, a_cat, a_just = c.a_sev, c.a_cat, c.a_just
    for i in idx:
        st = state[i]
        head = f'    <testcase classname="{a_rule[i]}" name="{a_who[i]}" time="0"'
        if st == "Compliant":
            yield head + "/>\n"
        elif st == "NonCompliant":
            body = t_msg[i] + ("\n\nRemediation: " + t_rem[i] if s_rem[i] else "")
            yield (f'{head}>\n      <failure message="{a_msg[i]}" type="{a_sev[i] or "NonCompliant"}">'
                   f"{body}</failure>\n    </testcase>\n")
        elif st == "Exempt":
            m = f"Exempt ({a_cat[i] or 'no category'})" + (f": {a_just[i]}" if a_just[i] else "")
            yield f'{head}>\n      <skipped message="{m}">{t_msg[i]}</skipped>\n    </testcase>\n'
        elif st == "NotApplicable":
            m = "NotApplicable" + (": " + a_msg[i] if s_msg[i] else "")
            yield f'{head}>\n      <skipped message="{m}"/>\n    </testcase>\n'
        else:  # Error, or a state this writer does not know: never a pass
            if s_msg[i]:
                am, tm = a_msg[i], t_msg[i]
            else:
                m = f"state {st or 'missing'}"
                am, tm = xml_attr(m), xml_text(m)
            yield (f'{head}>\n      <error message="{am}" type="{xml_attr(st or "Error")}">'
                   f"{tm}</error>\n    </testcase>\n")


_KNOWN = frozenset({"Compliant", "NonCompliant", "Exempt", "NotApplicable"})


def _tally(states: Iterable[str]) -> tuple[int, int, int]:
    """(failures, errors, skipped) among these states."""
    counts = Counter(states)
    return (counts["NonCompliant"], sum(n for st, n in counts.items() if st not in _KNOWN),
            counts["Exempt"] + counts["NotApplicable"])


def write_junit(path, findings: pd.DataFrame, meta: dict) -> None:
    """Write ``junit.xml`` to ``path`` atomically."""
    meta = meta or {}
    df = findings if findings is not None else pd.DataFrame()
    cols = {c: _column(df, c) for c in _COLUMNS}
    n = len(df)
    case_cols = _Columns(cols)
    state = case_cols.state

    # group row positions by rule, rules in meta order first, then in order of appearance
    groups: dict[str, list[int]] = {}
    for i, rid in enumerate(case_cols.rule):
        groups.setdefault(rid, []).append(i)
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

    total = _tally(state)
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
            f, e, s = _tally(map(state.__getitem__, idx))
            fh.write(f'  <testsuite name="{xml_attr(_suite_name(rid, title))}" tests="{len(idx)}" '
                     f'failures="{f}" errors="{e}" skipped="{s}" time="0"{stamp_attr}>\n')
            if tool:
                fh.write(f'    <properties>\n      <property name="tool" value="{xml_attr(tool.get("name"))}"/>\n'
                         f'      <property name="version" value="{xml_attr(tool.get("version"))}"/>\n'
                         f'      <property name="severity" value="{xml_attr(severities.get(rid) or cols["severity"][idx[0]])}"/>\n'
                         f"    </properties>\n")
            cases = _cases(case_cols, idx)
            while True:
                buf = list(islice(cases, 5000))
                if not buf:
                    break
                fh.write("".join(buf))
            fh.write("  </testsuite>\n")
        fh.write("</testsuites>\n")
