"""Assignment parameters and effects: each member of an assignment (the definition itself, or each of the set's
``policyDefinitions[]``) with the effect and the parameters it runs with, resolved as Azure Policy does (see
:mod:`auditor.model.policy`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ... import arm

PARAM_REF = re.compile(r"^\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]$", re.I)
DINE, DENY, MODIFY = "deployifnotexists", "deny", "modify"
ZONE_PARAM = "privateDnsZone-Backup"


@dataclass(frozen=True)
class Member:
    """One definition an assignment applies, with the effect and parameters it runs with."""
    definition_id: str               # lower-cased
    guid: str                        # last segment of the definition id, lower-cased
    ref: str | None                  # policyDefinitionReferenceId within the set (None: assigned directly)
    effect: str | None               # resolved, as given (compare case-insensitively); None: unknown
    effect_from: str                 # where the effect came from (override, assignment parameter, default ...)
    params: tuple                    # ((name, value, where it came from), ...) of the parameters the rules read

    def param(self, name: str) -> tuple:
        for n, v, how in self.params:
            if n.lower() == name.lower():
                return v, how
        return None, "absent"

    @property
    def label(self) -> str:
        return f" (set member {self.ref})" if self.ref else ""


def _lower_keys(d) -> dict:
    return {str(k).lower(): v for k, v in d.items()} if isinstance(d, dict) else {}


def _resolve(name: str, member_params: dict | None, a_params: dict, set_defaults: dict, def_defaults: dict):
    """(value, where it came from) of parameter ``name`` of a member (RULES' "Parameter P of X under A")."""
    key = name.lower()
    if member_params is None:  # assigned directly
        if key in a_params:
            return a_params[key], "assignment"
    elif key in member_params:
        v = member_params[key]
        m = PARAM_REF.match(v) if isinstance(v, str) else None
        if m:
            q = m.group(1).lower()
            if q in a_params:
                return a_params[q], f"assignment parameter {m.group(1)}"
            if q in set_defaults:
                return set_defaults[q], f"set default of {m.group(1)}"
            if key in def_defaults:
                return def_defaults[key], "definition default"
            return None, f"set parameter {m.group(1)} has no value"
        if isinstance(v, str) and v.startswith("[") and not v.startswith("[["):
            return v, "expression"
        return v, "set member"
    if key in def_defaults:
        return def_defaults[key], "definition default"
    return None, "absent"


def _effect(ref: str | None, overrides: tuple, member_params, a_params, set_defaults, def_defaults,
            def_effect) -> tuple:
    for kind, value, selectors in overrides:
        if kind != "policyeffect" or value is None:
            continue
        ok = True
        for skind, op, values in selectors:
            if skind != "policydefinitionreferenceid":
                continue
            hit = (ref or "").lower() in values
            ok = ok and (hit if op == "in" else not hit)
        if ok:
            return value, "override"
    expr = def_effect if isinstance(def_effect, str) else "[parameters('effect')]"
    m = PARAM_REF.match(expr)
    if not m:
        return expr, "definition"
    v, how = _resolve(m.group(1), member_params, a_params, set_defaults, def_defaults)
    if not isinstance(v, str) or how == "expression":
        return None, how
    return v, how


def _defaults(def_id: str, policy_defs: dict) -> tuple[dict, str | None]:
    known = policy_defs.get(def_id)
    if known is not None:
        return _lower_keys(known[0]), known[1]
    return _lower_keys(arm.BUILTIN_POLICY_DEFAULTS.get(def_id.rsplit("/", 1)[-1], {})), None


def _members(row: dict, sets: dict, policy_defs: dict) -> tuple[tuple[Member, ...], str | None, bool]:
    """(members, set id or None, set missing) of one assignment record."""
    did = row["definition_id"]
    a_params = _lower_keys(row["params"])
    wanted = (ZONE_PARAM,)
    if "/policysetdefinitions/" not in did:
        dd, de = _defaults(did, policy_defs)
        eff = _effect(None, row["overrides"], None, a_params, {}, dd, de)
        params = tuple((n, *_resolve(n, None, a_params, {}, dd)) for n in wanted)
        return (Member(did, did.rsplit("/", 1)[-1], None, eff[0], eff[1], params),), None, False
    s = sets.get(did)
    if s is None:
        return (), did, True
    set_defaults, members = s
    out = []
    for ref, mid, mparams in members:
        mp = _lower_keys(mparams)
        dd, de = _defaults(mid, policy_defs)
        eff = _effect(ref, row["overrides"], mp, a_params, set_defaults, dd, de)
        params = tuple((n, *_resolve(n, mp, a_params, set_defaults, dd)) for n in wanted)
        out.append(Member(mid, mid.rsplit("/", 1)[-1], ref, eff[0], eff[1], params))
    return tuple(out), did, False
