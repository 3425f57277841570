"""Extractors for Azure Policy and management groups: assignments, set and policy definitions, management groups
and their subscriptions (read by :mod:`auditor.model.policy`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import arm
from .. import ingest as I
from ..arm import parent as parent_id
from ..fields import Malformed, items, mapping, props, ref, text, text_items
from ._common import _name

if TYPE_CHECKING:
    from . import Tables


def _param_values(p: dict, key: str, field: str) -> dict:
    """``{name: {field: v}}`` (assignment ``parameters`` -> value, definition ``parameters`` -> defaultValue) ->
    ``{name: v}`` for the names that have the field."""
    out = {}
    for name, spec in mapping(p, key).items():
        if not isinstance(spec, dict):
            raise Malformed(f"{key}.{name} is {type(spec).__name__}, expected an object")
        if field in spec:
            out[str(name)] = spec[field]
    return out


def _scopes(p: dict, key: str) -> tuple[str, ...]:
    return tuple(s.lower().rstrip("/") or "/" for s in text_items(p, key, key))


def policy_assignment(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "policy assignment")
    scope = text(p, "scope") or parent_id(rid, "providers/Microsoft.Authorization/policyAssignments")
    overrides = []
    for ov in items(p, "overrides"):
        if not isinstance(ov, dict):
            raise Malformed("overrides holds a non-object")
        sels = []
        for sel in items(ov, "selectors"):
            if not isinstance(sel, dict):
                raise Malformed("overrides[].selectors holds a non-object")
            for op in ("in", "notIn"):
                if sel.get(op) is not None:
                    sels.append(((text(sel, "kind", "overrides[].selectors[].kind") or "").lower(), op.lower(),
                                 tuple(v.lower() for v in text_items(sel, op, f"overrides[].selectors[].{op}"))))
        value = ov.get("value")
        overrides.append(((text(ov, "kind", "overrides[].kind") or "").lower(),
                          value if isinstance(value, str) else None, tuple(sels)))
    locations = []  # resourceSelectors[].selectors[] of kind resourceLocation: (op, regions)
    for rs in items(p, "resourceSelectors"):
        if not isinstance(rs, dict):
            raise Malformed("resourceSelectors holds a non-object")
        for sel in items(rs, "selectors"):
            if not isinstance(sel, dict):
                raise Malformed("resourceSelectors[].selectors holds a non-object")
            if (text(sel, "kind", "resourceSelectors[].selectors[].kind") or "").lower() != "resourcelocation":
                continue
            for op in ("in", "notIn"):
                if sel.get(op) is not None:
                    locations.append((op.lower(), tuple("".join(v.split()).lower() for v in text_items(
                        sel, op, f"resourceSelectors[].selectors[].{op}"))))
    t.assignments.append((  # id, rid, name, display_name, scope, definition_id, enforcement, params, not_scopes,
        rid, o.get("id"), _name(o, rid), text(p, "displayName"), scope.lower().rstrip("/") or "/",  # overrides,
        (text(p, "policyDefinitionId") or "").lower().rstrip("/"), text(p, "enforcementMode"),      # locations
        _param_values(p, "parameters", "value"), _scopes(p, "notScopes"), tuple(overrides), tuple(locations)))


def policy_set(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "policy set definition")
    members = []
    for m in items(p, "policyDefinitions"):
        if not isinstance(m, dict):
            raise Malformed("policyDefinitions holds a non-object")
        members.append((text(m, "policyDefinitionReferenceId", "policyDefinitions[].policyDefinitionReferenceId"),
                        (text(m, "policyDefinitionId", "policyDefinitions[].policyDefinitionId") or "").lower(),
                        _param_values(m, "parameters", "value")))
    # id, name, display_name, param_defaults, members
    t.set_defs.append((raw.id, _name(raw.obj, raw.id), text(p, "displayName"),
                       _param_values(p, "parameters", "defaultValue"), tuple(members)))


def policy_definition(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "policy definition")
    then = mapping(mapping(p, "policyRule"), "then")
    effect = then.get("effect") if isinstance(then.get("effect"), str) else None
    # id, name, param_defaults, effect (the rule's literal effect or its parameter expression)
    t.policy_defs.append((raw.id, _name(raw.obj, raw.id), _param_values(p, "parameters", "defaultValue"), effect))


def _parent_ref(p: dict) -> str | None:
    parent = ref(mapping(p, "details"), "parent") or ref(p, "parent")
    return parent.rstrip("/") if parent else None


def management_group(t: Tables, raw: I.RawObject) -> None:
    o, rid = raw.obj, raw.id
    p = props(o, "management group")
    t.mg_nodes.append((rid, _name(o, rid), text(p, "displayName")))  # id, name, display_name
    parent = _parent_ref(p)
    if parent:
        t.mg_edges.append((rid, parent))  # child, parent
    # $expand=path (root first) / $expand=ancestors (parent first): the groups above it, by name
    details = mapping(p, "details")
    above = [text(g, "name", "details.path[].name") for g in items(details, "path") if isinstance(g, dict)][::-1]
    above = above or [text(g, "name", "details.managementGroupAncestorsChain[].name")
                      for g in items(details, "managementGroupAncestorsChain") if isinstance(g, dict)]
    child = rid
    for name_ in filter(None, above):
        if arm.MANAGEMENT_GROUP_PREFIX + name_.lower() == child:
            continue
        t.mg_edges.append((child, arm.MANAGEMENT_GROUP_PREFIX + name_.lower()))
        child = arm.MANAGEMENT_GROUP_PREFIX + name_.lower()

    def walk(children: list, under: str, depth: int) -> None:  # $expand=children&$recurse=true
        if depth > 10:
            raise Malformed("children nested more than 10 levels (management groups have at most 6)")
        for c in children:
            if not isinstance(c, dict):
                raise Malformed("children holds a non-object")
            cid = text(c, "id", "children[].id")
            if cid:
                t.mg_edges.append((cid.lower().rstrip("/"), under))
                walk(items(c, "children"), cid.lower().rstrip("/"), depth + 1)
    walk(items(p, "children"), rid, 0)


def mg_subscription(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "management group subscription")
    parent = _parent_ref(p)
    if not parent and "/subscriptions/" in raw.id and raw.id.startswith(arm.MANAGEMENT_GROUP_PREFIX):
        parent = raw.id[:raw.id.rindex("/subscriptions/")]
    if parent:
        t.mg_edges.append(("/subscriptions/" + raw.id.rsplit("/", 1)[-1], parent))  # child, parent
