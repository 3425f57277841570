"""findings.json and findings.csv: every evaluation, one row each, written in one pass."""
from __future__ import annotations

import re

import orjson
import pandas as pd

from auditor.fsutil import atomic_open

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# control characters (C0 but tab/newlines, DEL, C1) and bidi overrides/isolates ("Trojan Source" spoofing)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_CHARS = frozenset(_FORMULA_START)
# Columns the tool writes itself (fixed vocabularies, hashes): never input-derived.
_OWN = {"finding_id", "rule_id", "title", "severity", "compliance_state", "resource_type"}


def neutralise(cell: str) -> str:
    """OWASP CSV injection: a cell that a spreadsheet would read as a formula gets a leading apostrophe;
    control and bidi-override characters are dropped."""
    cell = _CONTROL.sub("", cell)
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def _columns(findings: pd.DataFrame) -> dict[str, list]:
    """Column name -> list of str ('' for missing)."""
    return {c: findings[c].astype(object).where(findings[c].notna(), "").astype(str).tolist()
            for c in findings.columns}


CHUNK = 20_000  # rows converted at a time: bounds the memory the writers add to the audit's


def _chunks(findings: pd.DataFrame):
    for start in range(0, len(findings), CHUNK):
        yield _columns(findings.iloc[start:start + CHUNK])


def write_json(path, findings: pd.DataFrame, meta: dict) -> None:
    doc = {"generated_at": meta.get("generated_at"), "tool": meta.get("tool"), "inputs": meta.get("inputs", []),
           "subscriptions": meta.get("subscriptions", []), "summary": meta.get("summary"),
           "errors": meta.get("errors", [])}
    if meta.get("baseline") is not None:
        doc["baseline"] = meta["baseline"]
        doc["resolved"] = meta.get("resolved", [])
    names = list(findings.columns)
    dumps = orjson.dumps
    head = dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
    with atomic_open(path, "wb") as fh:
        fh.write(head[:-2] + b',\n  "findings": [\n')  # reopen the object just before its closing brace
        sep = b"    "
        for cols in _chunks(findings):
            fh.write(sep + b",\n    ".join(dumps(dict(zip(names, row))) for row in zip(*cols.values())))
            sep = b",\n    "
        fh.write(b"\n  ]\n}\n")


def write_csv(path, findings: pd.DataFrame, meta: dict) -> None:
    """RFC 4180 by hand, column by column (three times faster than csv.writer on 100k rows, the same bytes), with
    every input-derived cell neutralised against formula injection."""
    names = list(findings.columns)
    with atomic_open(path, "w", newline="") as fh:
        fh.write(",".join(_quote(c) for c in names) + "\r\n")
        for cols in _chunks(findings):
            quoted = []
            for name, values in cols.items():
                if name not in _OWN:
                    # one scan of the whole column for control characters, then only the cells that need it
                    control = bool(_CONTROL.search("\n".join(values)))
                    values = [neutralise(v) if v[:1] in _FORMULA_CHARS or (control and _CONTROL.search(v)) else v
                              for v in values]
                quoted.append(['"' + v.replace('"', '""') + '"' if ("," in v or '"' in v or "\n" in v or "\r" in v)
                               else v for v in values])
            fh.write("\r\n".join(map(",".join, zip(*quoted))))
            fh.write("\r\n")


def _quote(v: str) -> str:
    if "," in v or '"' in v or "\n" in v or "\r" in v:
        return '"' + v.replace('"', '""') + '"'
    return v
