"""The demo estate as the live tests serve it and compare against: what the collector reads.

Until the collectors of the workload side (protection containers, VMs, NSGs, route tables, peerings) and of the
hardening rules (resource guard proxies, resource guards, key vaults) and of the policy rules (assignments, set
definitions, management groups) are declared in ``auditor.collect``, the
objects of those types are left out of the served *and* the offline demo, so that
live and offline see the same estate. Once ``collect.COLLECTED_TYPES`` holds a type, its objects are served again:
the guard expires by itself and these tests then cover the live workload path too.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from auditor import arm, collect

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "auditor" / "data" / "demo.json"
WORKLOAD_TYPES = frozenset({arm.PROTECTION_CONTAINER, arm.VM, arm.NSG, arm.ROUTE_TABLE, arm.VNET_PEERING})
HARDENING_TYPES = frozenset({arm.GUARD_PROXY, arm.RESOURCE_GUARD, arm.KEY_VAULT})
POLICY_TYPES = frozenset({arm.POLICY_ASSIGNMENT, arm.POLICY_SET, arm.POLICY_DEFINITION, arm.MANAGEMENT_GROUP,
                          arm.MG_SUBSCRIPTION})
NOT_COLLECTED = (WORKLOAD_TYPES | HARDENING_TYPES | POLICY_TYPES) - set(getattr(collect, "COLLECTED_TYPES", ()))


def demo_objects() -> list[dict]:
    objects = json.loads(DEMO_FILE.read_text())
    return [o for o in objects if arm.canonical(o.get("type")) not in NOT_COLLECTED]


def _demo_path() -> Path:
    if not NOT_COLLECTED or not DEMO_FILE.exists():
        return DEMO_FILE
    p = Path(tempfile.mkdtemp(prefix="live-demo-")) / "demo.json"
    p.write_text(json.dumps(demo_objects()))
    return p


DEMO = _demo_path()
OBJECTS = demo_objects() if DEMO_FILE.exists() else []
