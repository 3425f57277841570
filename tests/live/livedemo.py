"""The demo estate as a live collection can return it: the objects of the types the collector declares
(``collect.COLLECTED_TYPES``). Policy assignments, set definitions and management groups are left out until the
collector reads them, so that the live tests compare a live run with the offline audit of the same objects."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

from auditor import arm, collect

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "auditor" / "data" / "demo.json"
_NOT_YET = {t.lower() for t in (arm.POLICY_ASSIGNMENT, arm.POLICY_SET, arm.POLICY_DEFINITION, arm.MANAGEMENT_GROUP,
                                arm.MG_SUBSCRIPTION, "/subscriptions")} - {t.lower() for t in collect.COLLECTED_TYPES}


def collectable(objects: list[dict]) -> list[dict]:
    return [o for o in objects if str(o.get("type") or "").lower() not in _NOT_YET]


OBJECTS = collectable(json.loads(SHIPPED.read_text()))
_DIR = tempfile.mkdtemp(prefix="live-demo-")
atexit.register(shutil.rmtree, _DIR, True)
DEMO = Path(_DIR) / "demo.json"
DEMO.write_text(json.dumps(OBJECTS, indent=1))
