"""Field access with shape checks: each helper returns the field or raises :class:`Malformed` naming it, so that one
odd object is reported (its evaluations ``Error``), never guessed at. Extractors read ARM's nested shape and ``az``'s
flattened one alike (:func:`props`)."""
from __future__ import annotations

from typing import Any


class Malformed(Exception):
    """An object inside a readable file whose fields have the wrong shape."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.kind = kind


def text(obj: dict, key: str, what: str = "") -> str | None:
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v
    raise Malformed(f"{what or key} is {type(v).__name__}, expected a string")


def items(obj: dict, key: str) -> list:
    v = obj.get(key)
    if v is None:
        return []
    if isinstance(v, list):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected a list")


def mapping(obj: Any, key: str) -> dict:
    v = obj.get(key) if isinstance(obj, dict) else None
    if v is None or v == "":  # Resource Graph prints absent objects as null or ""
        return {}
    if isinstance(v, dict):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected an object")


def props(obj: Any, what: str = "object") -> dict:
    """``properties`` of an ARM object, or the object itself when ``az`` flattened it."""
    if not isinstance(obj, dict):
        raise Malformed(f"{what} is {type(obj).__name__}, expected an object")
    p = obj.get("properties")
    if isinstance(p, dict):
        return p
    if p is None:
        return obj
    raise Malformed(f"{what}.properties is {type(p).__name__}, expected an object")


def ref(obj: dict, key: str) -> str | None:
    """The ``id`` of a sub-resource reference ``{"id": ...}`` (az sometimes prints the id string itself)."""
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v.lower() if v else None
    if isinstance(v, dict):
        rid = v.get("id")  # text(v, "id", f"{key}.id"), without building the label unless it is needed
        if rid is None or isinstance(rid, str):
            return rid.lower() if rid else None
        raise Malformed(f"{key}.id is {type(rid).__name__}, expected a string")
    raise Malformed(f"{key} is {type(v).__name__}, expected a reference")


def texts(values: list, what: str) -> list[str]:
    for v in values:
        if not isinstance(v, str):
            raise Malformed(f"{what} holds {type(v).__name__}, expected strings")
    return values


def text_items(obj: dict, key: str, what: str) -> list[str]:
    """``texts(items(obj, key), what)`` in one call: the list of strings ``obj[key]`` ([] when absent)."""
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise Malformed(f"{key} is {type(v).__name__}, expected a list")
    for x in v:
        if not isinstance(x, str):
            raise Malformed(f"{what} holds {type(x).__name__}, expected strings")
    return v
