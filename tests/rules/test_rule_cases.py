"""One harness for every rule's cases (tests/rules/cases/<RULE>.yaml): pass, fail and not-applicable cases as data.

A case starts from the base estate (tests/rules/base.py; ``base: workloads``: with a protected VM) or from nothing
(``base: false``), applies its edits, runs the
auditor on the result as an input file, and checks the *exact* state of every subject of the rule under test:
``expect`` lists the ids per state, and no other subject may exist. ``pytest -k RSV-001`` runs one rule's cases.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from auditor import engine, pipeline
from auditor.rules import BY_ID

from .base import base_estate

CASES = Path(__file__).parent / "cases"


def _load_cases():
    for f in sorted(CASES.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        for case in doc["cases"]:
            yield pytest.param(doc["rule"], case, id=f"{doc['rule']}-{case['name']}")


def _subst(value, aliases):
    if isinstance(value, str):
        return re.sub(r"\$[a-z_0-9]+", lambda m: aliases.get(m.group(0), m.group(0)), value)
    if isinstance(value, list):
        return [_subst(v, aliases) for v in value]
    if isinstance(value, dict):
        return {_subst(k, aliases): _subst(v, aliases) for k, v in value.items()}
    return value


def _walk(obj, path: str):
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else obj.setdefault(p, {})
    return obj, parts[-1]


def _edit(objects: list, aliases: dict, edits: list) -> list:
    for e in _subst(edits, aliases):
        if "add" in e:
            objects.extend(e["add"] if isinstance(e["add"], list) else [e["add"]])
            continue
        targets = [o for o in objects if str(o.get("id", "")).lower() == e["id"].lower()]
        assert targets, f"no object {e['id']} in the estate"
        for o in targets:
            if e.get("remove"):
                objects.remove(o)
                continue
            for path, value in (e.get("set") or {}).items():
                parent, key = _walk(o, path)
                if isinstance(parent, list) and int(key) == len(parent):
                    parent.append(value)
                elif isinstance(parent, list):
                    parent[int(key)] = value
                else:
                    parent[key] = value
            for path in e.get("delete") or []:
                parent, key = _walk(o, path)
                if isinstance(parent, list):
                    del parent[int(key)]
                else:
                    parent.pop(key, None)
            if e.get("flatten"):  # the shape `az ... -o json` prints: properties at the top level
                props = o.pop("properties")
                o.update(props)
    return objects


@pytest.mark.parametrize("rule_id,case", list(_load_cases()))
def test_rule_case(rule_id, case, tmp_path):
    if case.get("base", True):
        objects, aliases = base_estate(workloads=case.get("base") == "workloads")
    else:
        objects, aliases = [], base_estate(workloads=True)[1]
    objects = _edit(objects, aliases, case.get("edits") or [])
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(objects))
    model = pipeline.load([str(path)])
    settings = engine.Settings(params={rule_id: case.get("params", {})}, only={rule_id})
    findings = engine.evaluate(model, [BY_ID[rule_id]], settings)
    got: dict[str, set] = {}
    for state, rid in zip(findings["compliance_state"], findings["resource_id"]):
        got.setdefault(state, set()).add(rid.lower())
    want = {state: {i.lower() for i in _subst(ids, aliases)} for state, ids in case["expect"].items() if ids}
    assert got == want, "\n".join(f"{r.compliance_state}: {r.resource_id}: {r.message}" for r in findings.itertuples())
    for state, needle in (case.get("message") or {}).items():
        msgs = " | ".join(findings.loc[findings["compliance_state"] == state, "message"])
        assert _subst(needle, aliases).lower() in msgs.lower(), msgs
