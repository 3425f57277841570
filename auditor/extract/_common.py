"""Helpers the extractors share: shape-checked lists of strings, names, private endpoint connection fields."""
from __future__ import annotations

from ..fields import Malformed, items, mapping, text, text_items


def _fields(obj: dict, key: str, field: str) -> list[str]:
    """The non-empty string ``field`` of every object in the list ``obj[key]`` (shape-checked)."""
    out = []
    for item in items(obj, key):
        if not isinstance(item, dict):
            raise Malformed(f"{key} holds a non-object")
        v = item.get(field)  # text(item, field, f"{key}[].{field}"), without building the label each time
        if v is None:
            continue
        if not isinstance(v, str):
            raise Malformed(f"{key}[].{field} is {type(v).__name__}, expected a string")
        if v:
            out.append(v)
    return out


def _name(obj: dict, rid: str) -> str:
    n = obj.get("name")
    return n if isinstance(n, str) and n else rid.rstrip("/").split("/")[-1]


def _conn_state(p: dict) -> str | None:
    st = mapping(p, "privateLinkServiceConnectionState")
    status = text(st, "status", "privateLinkServiceConnectionState.status")
    return status.lower() if status else None


def _groups(p: dict) -> list[str]:
    return [g.lower() for g in text_items(p, "groupIds", "groupIds")]
