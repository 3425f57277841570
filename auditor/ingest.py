"""ARM JSON in, routed and normalised records out.

Reads files or directories of plain ARM JSON (single objects, arrays, ``{"value": [...]}`` pages, Resource Graph
``{"data": [...]}`` answers, and the ``{"resources": [...], "errors": [...]}`` snapshots that ``auditor collect``
writes), routes every object by its ``type`` (or, without one, by its shape or id), merges duplicates by id, and
turns each object into flat records for :mod:`auditor.model`. A file that cannot be read is an :class:`InputError`
(exit 2); a malformed object inside a good file becomes an error record (its evaluations are ``Error``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import json as _json

# The stdlib parser: as fast as orjson on ARM exports here, and it shares repeated keys, so a 100k-object file
# takes about 30% less memory.
_JSONError: tuple[type[Exception], ...] = (ValueError,)


def _parse(data: bytes) -> Any:
    return _json.loads(data)


class InputError(Exception):
    """A file or option that cannot be used at all: one line, exit 2."""


class Malformed(Exception):
    """An object inside a readable file whose fields have the wrong shape."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.kind = kind


# Canonical ARM types, keyed by their lower-cased spelling.
VAULT = "Microsoft.RecoveryServices/vaults"
STORAGE_CONFIG = "Microsoft.RecoveryServices/vaults/backupstorageconfig"
PROTECTED_ITEM = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
VAULT_PE_CONNECTION = "Microsoft.RecoveryServices/vaults/privateEndpointConnections"
PRIVATE_ENDPOINT = "Microsoft.Network/privateEndpoints"
ZONE_GROUP = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
NIC = "Microsoft.Network/networkInterfaces"
VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
ZONE = "Microsoft.Network/privateDnsZones"
A_RECORD = "Microsoft.Network/privateDnsZones/A"
VNET_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"
SUBSCRIPTION = "Microsoft.Resources/subscriptions"
PROVIDER = "Microsoft.Resources/providers"
EVENT = "Microsoft.Insights/eventtypes/values"

KNOWN_TYPES = (VAULT, STORAGE_CONFIG, PROTECTED_ITEM, VAULT_PE_CONNECTION, PRIVATE_ENDPOINT, ZONE_GROUP, NIC, VNET,
               SUBNET, ZONE, A_RECORD, VNET_LINK, ROLE_ASSIGNMENT, ROLE_DEFINITION, SUBSCRIPTION, PROVIDER, EVENT)
_CANON = {t.lower(): t for t in KNOWN_TYPES}
_CANON["microsoft.recoveryservices/vaults/protectioncontainers/protecteditems"] = PROTECTED_ITEM
_CANON["microsoft.resources/subscriptions/providers"] = PROVIDER

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SUB_ID = re.compile(r"^/subscriptions/([^/]+)/?$", re.I)
_PROVIDER_ID = re.compile(r"^/subscriptions/([^/]+)/providers/([^/]+)/?$", re.I)


def type_from_id(rid: str) -> str | None:
    """The ARM type an id names: ``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> ``NS/t1/t2``."""
    parts = [p for p in rid.split("/") if p]
    low = [p.lower() for p in parts]
    if "providers" not in low:
        return SUBSCRIPTION if len(parts) == 2 and low[0] == "subscriptions" else None
    i = len(low) - 1 - low[::-1].index("providers")
    rest = parts[i + 1:]
    if len(rest) == 1:
        return PROVIDER if low[0] == "subscriptions" else None
    if len(rest) < 3:
        return None
    return "/".join([rest[0]] + rest[1::2])


def parent_id(rid: str, segment: str) -> str:
    """The id up to (excluding) ``/<segment>/`` (case-insensitive), lower-cased."""
    low = rid.lower()
    i = low.rfind("/" + segment.lower() + "/")
    return low[:i] if i >= 0 else low


def vnet_of(subnet_id: str | None) -> str | None:
    if not subnet_id:
        return None
    low = subnet_id.lower()
    i = low.rfind("/subnets/")
    return low[:i] if i >= 0 else None


def id_parts(rid: str) -> tuple[str, str, str]:
    """(subscription id, resource group, last name) of an ARM id, lower-cased except the name."""
    parts = rid.split("/")
    n = len(parts)
    sub = parts[2].lower() if n > 2 and parts[1].lower() == "subscriptions" else ""
    rg = parts[4].lower() if n > 4 and parts[3].lower() == "resourcegroups" else ""
    return sub, rg, parts[-1]


# ---------------------------------------------------------------- field access with shape checks

def _s(obj: dict, key: str, what: str = "") -> str | None:
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v
    raise Malformed(f"{what or key} is {type(v).__name__}, expected a string")


def _l(obj: dict, key: str) -> list:
    v = obj.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected a list")


def _d(obj: Any, key: str) -> dict:
    v = obj.get(key) if isinstance(obj, dict) else None
    if v is None or v == "":  # Resource Graph prints absent objects as null or ""
        return {}
    if isinstance(v, dict):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected an object")


def _props(obj: Any, what: str = "object") -> dict:
    """``properties`` of an ARM object, or the object itself when ``az`` flattened it."""
    if not isinstance(obj, dict):
        raise Malformed(f"{what} is {type(obj).__name__}, expected an object")
    p = obj.get("properties")
    if isinstance(p, dict):
        return p
    if p is None:
        return obj
    raise Malformed(f"{what}.properties is {type(p).__name__}, expected an object")


def _ref(obj: dict, key: str) -> str | None:
    """The ``id`` of a sub-resource reference ``{"id": ...}`` (az sometimes prints the id string itself)."""
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v.lower() if v else None
    if isinstance(v, dict):
        rid = v.get("id")  # _s(v, "id", f"{key}.id"), without building the label unless it is needed
        if rid is None or isinstance(rid, str):
            return rid.lower() if rid else None
        raise Malformed(f"{key}.id is {type(rid).__name__}, expected a string")
    raise Malformed(f"{key} is {type(v).__name__}, expected a reference")


def _strs(values: list, what: str) -> list[str]:
    for v in values:
        if not isinstance(v, str):
            raise Malformed(f"{what} holds {type(v).__name__}, expected strings")
    return values


def _ls(obj: dict, key: str, what: str) -> list[str]:
    """``_strs(_l(obj, key), what)`` in one call: the list of strings ``obj[key]`` ([] when absent)."""
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise Malformed(f"{key} is {type(v).__name__}, expected a list")
    for x in v:
        if not isinstance(x, str):
            raise Malformed(f"{what} holds {type(x).__name__}, expected strings")
    return v


# ---------------------------------------------------------------- reading files

@dataclass(slots=True)
class Source:
    path: str
    position: int


@dataclass(slots=True)
class RawObject:
    type: str
    id: str            # lower-cased id (canonical for subscriptions: /subscriptions/<guid>)
    obj: dict
    source: Source


@dataclass
class Ingested:
    objects: dict[tuple[str, str], RawObject] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    collected_types: set[str] = field(default_factory=set)
    count: int = 0


def _iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        try:
            entries = sorted(path.rglob("*.json"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read directory: {exc.strerror or exc}") from None
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputError(f"{path}: cannot read directory: permission denied")
        for p in entries:
            if not p.is_dir():  # a dangling link or unreadable entry is reported, not skipped
                yield p
    elif path.exists():
        yield path
    else:
        raise InputError(f"{path}: no such file or directory")


def _top_level(doc: Any, path: Path) -> tuple[list, list[dict], list[str]]:
    """The objects of a document, plus snapshot errors and collected types."""
    if isinstance(doc, list):
        return doc, [], []
    if isinstance(doc, dict):
        if isinstance(doc.get("resources"), list) and ("errors" in doc or "collected_at" in doc):
            errors = doc.get("errors") or []
            if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
                raise InputError(f"{path}: 'errors' must be a list of objects")
            types = doc.get("collected_types") or []
            if not isinstance(types, list):
                raise InputError(f"{path}: 'collected_types' must be a list")
            return doc["resources"], errors, [str(t) for t in types]
        for key in ("value", "data"):
            if key in doc and "id" not in doc and "type" not in doc:
                if not isinstance(doc[key], list):
                    raise InputError(f"{path}: '{key}' is {type(doc[key]).__name__}, expected a list of objects")
                return doc[key], [], []
        return [doc], [], []
    raise InputError(f"{path}: top level is a JSON {type(doc).__name__}; expected an object, an array, "
                     "{\"value\": [...]} or {\"data\": [...]}")


def read_inputs(paths: Iterable[str | os.PathLike]) -> Ingested:
    out = Ingested()
    for raw in paths:
        for path in _iter_files(Path(raw)):
            try:
                data = path.read_bytes()
            except IsADirectoryError:
                continue
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
            try:
                doc = _parse(data)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not valid UTF-8 JSON: {exc.reason}") from None
            except _JSONError as exc:
                raise InputError(f"{path}: not valid JSON: {exc}") from None
            except RecursionError:
                raise InputError(f"{path}: not valid JSON: nested too deeply") from None
            del data
            items, errors, types = _top_level(doc, path)
            out.inputs.append(str(path))
            out.errors.extend(_snapshot_error(e) for e in errors)
            out.collected_types.update(_CANON.get(t.lower(), t) for t in types)
            add_objects(out, items, str(path))
            del doc, items
    return out


def _snapshot_error(e: dict) -> dict:
    types = e.get("types") or []
    return {"scope": str(e.get("scope") or "").lower().rstrip("/"), "status": e.get("status"),
            "message": str(e.get("message") or ""),
            "types": [_CANON.get(str(t).lower(), str(t)) for t in types] if isinstance(types, list) else []}


def add_objects(out: Ingested, items: list, where: str) -> None:
    objects = out.objects
    for pos, obj in enumerate(items):
        out.count += 1
        try:
            kind, rid = route(obj)
        except Malformed as exc:
            label = _label(obj, pos)
            out.warnings.append(f"{where}: object {label} is unreadable: {exc}")
            rid_guess = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else ""
            out.errors.append(unreadable(rid_guess, exc.kind, f"{where}: object {label} is unreadable: {exc}"))
            continue
        if kind is None:
            continue
        key = (kind, rid)
        prev = objects.get(key)
        if prev is None:
            objects[key] = RawObject(kind, rid, obj, Source(where, pos))
        else:
            prev.obj = _merge(prev.obj, obj)


def unreadable(rid: str, kind: str | None, message: str) -> dict:
    """The error record of an object that could not be read: its evaluations become ``Error``.

    Without a type nobody can tell which evaluations needed it: the run is incomplete (exit 3) but no
    evaluation is marked."""
    return {"scope": (rid or "").lower().rstrip("/"), "status": "unreadable", "message": message,
            "types": [kind] if kind else ["(unknown)"], "object_type": kind}


def _label(obj: Any, pos: int) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return f"{obj['id']!r} (position {pos})"
    return f"at position {pos}"


def _merge(a: dict, b: dict) -> dict:
    merged = {**a, **b}
    if "id" in a:
        merged["id"] = a["id"]  # the first spelling of the id is the one reported
    pa, pb = a.get("properties"), b.get("properties")
    if isinstance(pa, dict) and isinstance(pb, dict):
        merged["properties"] = {**pa, **pb}
    return merged


# Known types routed by their id alone (no canonical id to compute).
_BY_ID = frozenset(KNOWN_TYPES) - {SUBSCRIPTION, PROVIDER, EVENT}


def route(obj: Any) -> tuple[str | None, str]:
    """(canonical type or None for unknown, lower-cased id)."""
    if type(obj) is dict:  # the common case first: a typed object of a known type with an id
        t, rid = obj.get("type"), obj.get("id")
        if type(t) is str and type(rid) is str and rid:
            kind = _CANON.get(t.lower())
            if kind in _BY_ID:
                return kind, rid.lower().rstrip("/")
    if not isinstance(obj, dict):
        raise Malformed(f"is a JSON {type(obj).__name__}, expected an object")
    t = obj.get("type")
    rid = obj.get("id")
    if rid is not None and not isinstance(rid, str):
        raise Malformed(f"id is {type(rid).__name__}, expected a string")
    if t is not None and not isinstance(t, str):
        raise Malformed(f"type is {type(t).__name__}, expected a string")
    kind = _CANON.get(t.lower()) if t else None
    if t and kind is None:
        # Resource Graph and az spell some types their own way; anything else is simply not ours.
        kind = _CANON.get(t.lower().replace("microsoft.resources/subscriptions/", "microsoft.resources/"))
        if kind is None:
            return None, (rid or "").lower()
    if kind is None:
        if "operationName" in obj and "eventTimestamp" in obj:
            return EVENT, (rid or f"event:{obj.get('eventDataId') or id(obj)}").lower()
        if rid and "tenantId" in obj and (_SUB_ID.match(rid) and "subscriptionId" in obj or _GUID.match(rid)):
            kind = SUBSCRIPTION
        elif "namespace" in obj and "registrationState" in obj:
            kind = PROVIDER
        elif rid:
            kind = _CANON.get((type_from_id(rid) or "").lower())
            if kind is None:
                return None, rid.lower()
        else:
            return None, ""
    if kind == SUBSCRIPTION:
        sub = _s(obj, "subscriptionId")
        if rid and _GUID.match(rid):
            sub = sub or rid
        elif rid and _SUB_ID.match(rid):
            sub = sub or _SUB_ID.match(rid).group(1)
        if not sub:
            raise Malformed("subscription without an id", kind)
        return kind, f"/subscriptions/{sub.lower()}"
    if kind == PROVIDER:
        ns = _s(obj, "namespace")
        m = _PROVIDER_ID.match(rid or "")
        if m:
            return kind, rid.lower().rstrip("/")
        if ns and rid:
            return kind, rid.lower()
        raise Malformed("resource provider without an id", kind)
    if kind == EVENT:
        return kind, (rid or f"event:{id(obj)}").lower()
    if not rid:
        raise Malformed(f"{kind} without an id", kind)
    return kind, rid.lower().rstrip("/")
