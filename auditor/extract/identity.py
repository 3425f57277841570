"""Extractors for identity and the subscription: role assignments and definitions, subscriptions, resource
providers and activity log events."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import arm
from .. import ingest as I
from ..arm import id_parts, parent as parent_id
from ..fields import Malformed, items, props, text, text_items

if TYPE_CHECKING:
    from . import Tables


def role_assignment(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "role assignment")
    role = text(p, "roleDefinitionId") or ""
    scope = text(p, "scope") or parent_id(raw.id, "providers/Microsoft.Authorization/roleAssignments")
    t.roles.append((  # id, principal_id, principal_type, role_guid, scope
        raw.id, (text(p, "principalId") or "").lower(), text(p, "principalType") or "",
        arm.role_guid(role), scope.lower().rstrip("/") or "/"))


def role_definition(t: Tables, raw: I.RawObject) -> None:
    p = props(raw.obj, "role definition")
    perms = []
    for block in items(p, "permissions"):
        if not isinstance(block, dict):
            raise Malformed("permissions holds a non-object")
        perms.append((tuple(a.lower() for a in text_items(block, "actions", "permissions[].actions")),
                      tuple(a.lower() for a in text_items(block, "notActions", "permissions[].notActions"))))
    name = raw.obj.get("name")
    guid = name if isinstance(name, str) and arm.GUID.match(name) else raw.id.rsplit("/", 1)[-1]
    t.role_defs.append((guid.lower(), tuple(perms), text(p, "roleType") or ""))  # guid, perms, role_type


def subscription(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else {}
    tenant = text(o, "homeTenantId") or text(p, "homeTenantId") or text(o, "tenantId") or text(p, "tenantId")
    name = text(o, "displayName") or (o.get("name") if isinstance(o.get("name"), str) else None)
    t.subs.append((raw.id.rsplit("/", 1)[-1], (tenant or "").lower() or None, name))  # sub, tenant, name
    # Resource Graph's resourcecontainers rows: the groups above the subscription, its own parent first
    chain = [text(g, "name", "managementGroupAncestorsChain[].name") for g in items(p, "managementGroupAncestorsChain")
             if isinstance(g, dict)]
    child = raw.id
    for name_ in filter(None, chain):
        parent_ = arm.MANAGEMENT_GROUP_PREFIX + name_.lower()
        t.mg_edges.append((child, parent_))  # child, parent
        child = parent_


def provider(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    p = o.get("properties") if isinstance(o.get("properties"), dict) else o
    ns = text(o, "namespace") or text(p, "namespace") or raw.id.rsplit("/", 1)[-1]
    sub, _, _ = id_parts(raw.id)
    t.providers.append((sub, ns.lower(), text(p, "registrationState")))  # sub, namespace, state


def _value(o: dict, key: str) -> str | None:
    v = o.get(key)
    if isinstance(v, dict):
        return text(v, "value", f"{key}.value")
    if v is None or isinstance(v, str):
        return v
    raise Malformed(f"{key} is {type(v).__name__}, expected a string or {{value}}")


def event(t: Tables, raw: I.RawObject) -> None:
    o = raw.obj
    sub = text(o, "subscriptionId") or id_parts(text(o, "resourceId") or text(o, "id") or "")[0]
    t.events.append((  # sub, op, status, ts
        (sub or "").lower(), (_value(o, "operationName") or "").lower(), (_value(o, "status") or "").lower(),
        text(o, "eventTimestamp")))
