"""findings.json and findings.csv."""
from __future__ import annotations

import csv
import json
import re

import pandas as pd

from auditor.fsutil import atomic_open

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def neutralise(cell: str) -> str:
    """OWASP CSV injection: a cell that a spreadsheet would read as a formula gets a leading apostrophe."""
    cell = _CONTROL.sub("", cell)
    if cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def records(findings: pd.DataFrame) -> list[dict]:
    return findings.astype(object).where(findings.notna(), "").to_dict("records")


def write_json(path, findings: pd.DataFrame, meta: dict) -> None:
    doc = {"generated_at": meta.get("generated_at"), "tool": meta.get("tool"), "inputs": meta.get("inputs", []),
           "subscriptions": meta.get("subscriptions", []), "summary": meta.get("summary"),
           "errors": meta.get("errors", []), "findings": records(findings)}
    if meta.get("baseline") is not None:
        doc["baseline"] = meta["baseline"]
        doc["resolved"] = meta.get("resolved", [])
    with atomic_open(path, "w") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False, default=str)
        fh.write("\n")


def write_csv(path, findings: pd.DataFrame, meta: dict) -> None:
    cols = list(findings.columns)
    with atomic_open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        data = findings.astype(object).where(findings.notna(), "")
        w.writerows([neutralise(str(c)) for c in row] for row in data.itertuples(index=False, name=None))
