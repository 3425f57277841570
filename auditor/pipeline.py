"""The one data path into the engine: ARM JSON from files, the built-in demo, a live collection or a snapshot ->
ingest (routing, shapes, duplicates) -> extract (records) -> model (frames and views).

``auditor audit`` and ``auditor collect`` both come through here, as do the tests and benchmarks; the engine only
evaluates a model it is handed.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Iterable

from . import arm
from . import ingest
from .extract import extract
from .model import Model, build

DEMO_LABEL = "demo estate (built in)"


def present_types(ing: ingest.Ingested) -> set[str]:
    """The ARM types the input holds (or that a collector read, even when it found none of them)."""
    present = {raw.type for raw in ing.objects.values()} | set(ing.collected_types)
    present |= {e["object_type"] for e in ing.errors if e.get("object_type")}
    if arm.VNET in present:
        present.add(arm.SUBNET)
    return present


def model_from(ing: ingest.Ingested) -> Model:
    tables, bad = extract(ing)
    present = present_types(ing)
    ing.objects.clear()  # the raw JSON is no longer needed: free it before the frames are built
    m = build(tables, bad, present, ing.errors)
    m.warnings, m.inputs = ing.warnings, ing.inputs
    return m


def load(paths: Iterable[str]) -> Model:
    """Files or directories of exported ARM JSON."""
    ing = ingest.read_inputs(paths)
    ing.warnings.extend(empty_subscriptions(ing))
    return model_from(ing)


def empty_subscriptions(ing: ingest.Ingested) -> list[str]:
    """A warning per listed subscription that holds no exported object of any type: an export of az's active
    subscription only (``az ... list`` without ``--subscription``) misses the others silently otherwise."""
    listed = {raw.id.rsplit("/", 1)[-1]: raw for raw in ing.objects.values() if raw.type == arm.SUBSCRIPTION}
    if not listed:
        return []
    seen = {arm.subscription_of(raw.id) for raw in ing.objects.values() if raw.type != arm.SUBSCRIPTION}
    seen |= {arm.subscription_of(e.get("scope") or "") for e in ing.errors}
    out = []
    for sub in sorted(set(listed) - seen):
        o = listed[sub].obj
        name = o.get("displayName") or o.get("name")
        label = f"{sub} ({name})" if isinstance(name, str) and name and name != sub else sub
        out.append(f"subscription {label} is listed but no exported object lies in it: was it exported "
                   "(az ... --subscription)?")
    return out


def demo_path() -> Path:
    """The built-in sample estate, shipped inside the package."""
    return Path(str(resources.files("auditor") / "data" / "demo.json"))


def load_demo() -> Model:
    m = load([str(demo_path())])
    m.inputs = [DEMO_LABEL]
    return m


def load_objects(resources: list, errors: list[dict] | None = None, collected_types: Iterable[str] = (),
                 where: str = "live") -> Model:
    """The live path: objects the collector yielded, with its error records."""
    ing = ingest.Ingested()
    ingest.add_objects(ing, resources, where)
    ing.errors.extend(ingest.snapshot_error(e) for e in errors or [])
    ing.collected_types.update(collected_types)
    ing.inputs.append(where)
    return model_from(ing)


def collector_takes_management_groups() -> bool:
    """Whether the live collector enumerates management groups (``collect_estate(..., management_groups=)``)."""
    import inspect
    from . import collect
    return "management_groups" in inspect.signature(collect.collect_estate).parameters


def collect_live(*, arm_endpoint: str, cloud: str, tenant: str | None, subscriptions: list[str] | None,
                 max_concurrency: int, source: str, workers: int | None, structured_progress: bool,
                 management_groups: list[str] | None = None) -> dict:
    """Collect the live estate: the snapshot dict (resources, errors, collected_types, collected_at)."""
    from . import collect
    credential = collect.build_credential(tenant=tenant, cloud=cloud)
    progress = collect.Progress(structured=structured_progress)
    extra = {"management_groups": management_groups} if management_groups else {}
    return collect.collect_estate(credential, subscriptions=subscriptions, arm_endpoint=arm_endpoint, cloud=cloud,
                                  max_concurrency=max_concurrency, progress=progress, source=source, workers=workers,
                                  **extra)


def default_endpoint(cloud: str, given: str | None = None) -> str:
    """The ARM endpoint of a run: the option, else AZURE_ARM_ENDPOINT, else the cloud's."""
    from . import collect
    return given or os.environ.get("AZURE_ARM_ENDPOINT") or collect.CLOUDS[cloud]["arm_endpoint"]
