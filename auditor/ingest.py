"""ARM JSON in, routed and normalised records out.

Reads files or directories of plain ARM JSON (single objects, arrays, ``{"value": [...]}`` pages, Resource Graph
``{"data": [...]}`` answers and their table format ``{"data": {"columns": [...], "rows": [[...]]}}``, and the ``{"resources": [...], "errors": [...]}`` snapshots that ``auditor collect``
writes), routes every object by its ``type`` (or, without one, by its shape or id), merges duplicates by id, and
turns each object into flat records for :mod:`auditor.model`. A file that cannot be read is an :class:`InputError`
(exit 2); a malformed object inside a good file becomes an error record (its evaluations are ``Error``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import json as _json

from . import arm
from .fields import Malformed, text

# The stdlib parser: as fast as orjson on ARM exports here, and it shares repeated keys, so a 100k-object file
# takes about 30% less memory.
_JSONError: tuple[type[Exception], ...] = (ValueError,)


def _parse(data: bytes) -> Any:
    return _json.loads(data)


class InputError(Exception):
    """A file or option that cannot be used at all: one line, exit 2."""


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


def _table_rows(data: dict, path: Path) -> list:
    """The objects a Resource Graph answer in table format spells (API 2019-04-01, ``resultFormat: table``):
    ``{"columns": [{"name", "type"}], "rows": [[...]]}``, each row zipped with the column names. A row that is not a
    list of one value per column is passed on as it is, to be reported as unreadable."""
    columns, rows = data.get("columns"), data.get("rows")
    if not isinstance(columns, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str)
                                                for c in columns):
        raise InputError(f"{path}: 'data.columns' must be a list of {{\"name\": ...}} objects")
    if not isinstance(rows, list):
        raise InputError(f"{path}: 'data.rows' is {type(rows).__name__}, expected a list of rows")
    names = [c["name"] for c in columns]
    return [dict(zip(names, r)) if isinstance(r, list) and len(r) == len(names) else r for r in rows]


def _top_level(doc: Any, path: Path) -> tuple[list, list[dict], list[str]]:
    """The objects of a document, plus snapshot errors and collected types. A JSON ``null`` (a recorded 200 with an
    empty body) holds no object."""
    if doc is None:
        return [], [], []
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
                if key == "data" and isinstance(doc[key], dict) and ("columns" in doc[key] or "rows" in doc[key]):
                    return _table_rows(doc[key], path), [], []
                if not isinstance(doc[key], list):
                    raise InputError(f"{path}: '{key}' is {type(doc[key]).__name__}, expected a list of objects")
                return doc[key], [], []
        return [doc], [], []
    raise InputError(f"{path}: top level is a JSON {type(doc).__name__}; expected an object, an array, "
                     "{\"value\": [...]} or {\"data\": [...]}")


def read_inputs(paths: Iterable[str | os.PathLike]) -> Ingested:
    """Read every file (directories file by file). A file of a directory that is valid JSON but holds no object
    (``null``, ``[]``, ``{"value": []}``) contributes nothing and is named in a warning; a file named by itself that
    holds no object is an :class:`InputError` (there is nothing in it to audit)."""
    out = Ingested()
    for raw in paths:
        named = Path(raw)
        in_dir = named.is_dir()
        for path in _iter_files(named):
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
            if not items and not errors and not types and not _is_snapshot(doc):
                if not in_dir:
                    raise InputError(f"{path}: holds no object ({_shape(doc)}): nothing to audit")
                out.warnings.append(f"{path}: holds no object ({_shape(doc)}); it contributes nothing")
            out.inputs.append(str(path))
            out.errors.extend(snapshot_error(e) for e in errors)
            out.collected_types.update(arm.CANONICAL.get(t.lower(), t) for t in types)
            add_objects(out, items, str(path))
            del doc, items
    return out


def _is_snapshot(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("resources"), list) and (
        "errors" in doc or "collected_at" in doc)


def _shape(doc: Any) -> str:
    """How an empty document is spelled, for the warning."""
    if doc is None:
        return "null"
    if isinstance(doc, list):
        return "[]"
    key = "value" if "value" in doc else "data"
    return f"an empty '{key}' list" if isinstance(doc.get(key), list) else f"a '{key}' table without rows"


def snapshot_error(e: dict) -> dict:
    types = e.get("types") or []
    return {"scope": str(e.get("scope") or "").lower().rstrip("/"), "status": e.get("status"),
            "message": str(e.get("message") or ""),
            "types": [arm.CANONICAL.get(str(t).lower(), str(t)) for t in types] if isinstance(types, list) else []}


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
_BY_ID = frozenset(arm.KNOWN_TYPES) - {arm.SUBSCRIPTION, arm.PROVIDER, arm.EVENT}


def route(obj: Any) -> tuple[str | None, str]:
    """(canonical type or None for unknown, lower-cased id)."""
    if type(obj) is dict:  # the common case first: a typed object of a known type with an id
        t, rid = obj.get("type"), obj.get("id")
        if type(t) is str and type(rid) is str and rid:
            kind = arm.CANONICAL.get(t.lower())
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
    kind = arm.CANONICAL.get(t.lower()) if t else None
    if t and kind is None:
        # Resource Graph and az spell some types their own way; anything else is simply not ours.
        kind = arm.CANONICAL.get(t.lower().replace("microsoft.resources/subscriptions/", "microsoft.resources/"))
        if kind is None:
            return None, (rid or "").lower()
    if kind is None:
        if "operationName" in obj and "eventTimestamp" in obj:
            return arm.EVENT, (rid or f"event:{obj.get('eventDataId') or id(obj)}").lower()
        if rid and "tenantId" in obj and (arm.SUB_ID.match(rid) and "subscriptionId" in obj or arm.GUID.match(rid)):
            kind = arm.SUBSCRIPTION
        elif "namespace" in obj and "registrationState" in obj:
            kind = arm.PROVIDER
        elif rid:
            kind = arm.CANONICAL.get((arm.type_from_id(rid) or "").lower())
            if kind is None:
                return None, rid.lower()
        else:
            return None, ""
    if kind == arm.SUBSCRIPTION:
        sub = text(obj, "subscriptionId")
        if rid and arm.GUID.match(rid):
            sub = sub or rid
        elif rid and arm.SUB_ID.match(rid):
            sub = sub or arm.SUB_ID.match(rid).group(1)
        if not sub:
            raise Malformed("subscription without an id", kind)
        return kind, f"/subscriptions/{sub.lower()}"
    if kind == arm.PROVIDER:
        ns = text(obj, "namespace")
        m = arm.PROVIDER_ID.match(rid or "")
        if m:
            return kind, rid.lower().rstrip("/")
        if ns and rid:
            return kind, rid.lower()
        raise Malformed("resource provider without an id", kind)
    if kind == arm.EVENT:
        return kind, (rid or f"event:{id(obj)}").lower()
    if not rid:
        raise Malformed(f"{kind} without an id", kind)
    return kind, rid.lower().rstrip("/")
