"""Concrete fixes: for every finding the auditor can act on, the ``az`` commands with every value it knows filled in.

:func:`attach` runs at the end of :func:`auditor.model.build`. It adds to every view a ``fixes`` column (rule id ->
the concrete remediation text of that row; the rules' remediation templates read it as ``{fixes[RULE-ID]}``) and
sets ``Model.steps``: the same fixes as structured :class:`Step`\\ s, which :mod:`auditor.plan` orders into
``remediation.sh`` / ``remediation.md``.

What the fixes read from the views (all built by :mod:`auditor.model`): the endpoints' FQDN rows (zone name, record
name, expected IPs, linked zones, the record's addresses), the zones, records, links, connections and role
assignments tables, the vaults' identity and public network access, the providers' registration state.

The fixes are computed for the state the plan leaves behind, not only for each row alone: the zone a VNet gets
linked to is the zone its records are added to, and the roles IAM-001 needs include the zones the plan links and
the identity RSV-005 creates. A value the auditor cannot know (a new vault's name, a subnet to move to, the resource
group of a zone that does not exist) stays a placeholder ``<like-this>``, named in the text, and its step is a
``review`` step: :mod:`auditor.plan` emits it commented out under ``# REVIEW: <reason>``.

The package: :mod:`.common` (phases, :class:`Step`, :class:`Fixes`, quoting), :mod:`.lookups` (what the families
read), one module per family of rules (:mod:`.dns` DNS-001..006, :mod:`.endpoints` PE-001/002, :mod:`.roles`
IAM-001, :mod:`.vaults` RSV-001/002/005/006/007 and SUB-001/002); :func:`attach` runs them in a fixed order, the
order of ``m.steps``.
"""
from __future__ import annotations

from .common import (APPROVE, FALLBACK, GRANT, IDENTITY, LINK, NEED_KIND, NEED_ROLE, NO_FIXES, PUBLIC, RECORD,
                     REGISTER, REVIEW, ROLE_NAMES, STALE, VAULT_API, Fixes, Plan, Step, az, clean, q)
from .dns import record_and_link_fixes, zone_group_fixes, zones_to_forward
from .endpoints import approval_fixes, connection_pairs, failed_endpoint_fixes
from .lookups import build_lookups
from .roles import granted_roles, needed_roles
from .vaults import provider_fixes, vault_fixes

__all__ = ["APPROVE", "FALLBACK", "GRANT", "IDENTITY", "LINK", "NEED_KIND", "NEED_ROLE", "PUBLIC", "RECORD", "REGISTER",
           "REVIEW", "ROLE_NAMES", "STALE", "VAULT_API", "Fixes", "Step", "attach", "az", "clean", "q"]


def attach(m) -> None:
    """Add the ``fixes`` column to every view and set ``m.steps`` (see the module docstring)."""
    plan = Plan()
    t = m.tables
    lk = build_lookups(m)
    # the order of the families is the order of m.steps (the same change asked twice is the first one's step)
    dns_review, planned_links = record_and_link_fixes(plan, lk)            # DNS-001..004
    pairs = connection_pairs(t["conns"])
    pairs_of_vault: dict[str, list[tuple[str, dict]]] = {}
    for (v, pe), p in pairs.items():
        pairs_of_vault.setdefault(v, []).append((pe, p))
    approve_key = approval_fixes(plan, lk, pairs)                           # PE-001
    failed_endpoint_fixes(plan, lk)                                         # PE-002
    granted = granted_roles(t["roles"], t["role_defs"])
    needs = needed_roles(lk, planned_links)
    vault_fixes(plan, lk, m.vaults, needs, granted, pairs_of_vault, approve_key, dns_review)  # RSV-00x, IAM-001
    provider_fixes(plan, m.providers)                                       # SUB-001, SUB-002
    zone_group_fixes(plan, lk, m.endpoints)                                 # DNS-005
    m.steps = _attach_columns(m, list(plan.steps.values()), zones_to_forward(lk))   # DNS-006 reads the zones


def _attach_columns(m, steps: list[Step], zones_of_vnet: dict[str, set[str]]) -> list[Step]:
    """Set every view's ``fixes`` column from the steps (and DNS-006's zones); returns the steps."""
    by_target: dict[tuple[str, str], list[Step]] = {}
    for s in steps:
        for tg in s.targets:
            by_target.setdefault(tg, []).append(s)
    per_id: dict[str, Fixes] = {}
    for (rule, rid), found in by_target.items():
        per_id.setdefault(rid, Fixes())[rule] = _text(found)
    for vnet, zs in zones_of_vnet.items():
        per_id.setdefault(vnet, Fixes())["DNS-006"] = ", ".join(sorted(zs))
    for view in (m.vaults, m.endpoints, m.subnets, m.vnets, m.providers, m.assignments):  # (not the workloads view:
        # no rule there reads it)
        view["fixes"] = [per_id.get(rid, NO_FIXES) if isinstance(rid, str) else NO_FIXES for rid in view["id"].tolist()]
    return steps


def _text(steps: list[Step]) -> str:
    out = []
    for s in sorted(steps, key=lambda s: (s.phase, s.key)):
        if s.review:
            out.append(f"after review ({clean(s.review)}): {s.command}")
        else:
            out.append(s.command)
    return "; ".join(out)
