"""``--config FILE`` (TOML): rule parameters, effects, exemptions, subscriptions. Any unknown key or bad value is an
error that names the key (exit 2)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .engine import Exemption
from .ingest import InputError

EFFECTS = {"audit": "Audit", "disabled": "Disabled"}
CATEGORIES = {"waiver": "Waiver", "mitigated": "Mitigated"}
CHOICES = {"required_state": ("Disabled", "PermanentlyDisabled")}   # text parameters with a fixed set of values
EXEMPTION_KEYS = {"rules", "scope", "category", "expires_on", "justification", "name", "description"}


@dataclass
class Config:
    subscriptions: list[str] = field(default_factory=list)
    management_groups: list[str] = field(default_factory=list)
    params: dict[str, dict] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    exemptions: list[Exemption] = field(default_factory=list)


def _fail(path: Path, key: str, problem: str) -> InputError:
    return InputError(f"{path}: {key}: {problem}")


def _when(path: Path, key: str, value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            d = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _fail(path, key, f"{value!r} is not a date or date-time") from None
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    raise _fail(path, key, f"expected a date or date-time, got {type(value).__name__}")


def _param(path: Path, key: str, v, default):
    """A parameter value checked against its default's type. A table default (PE-003's ``min_free_ips.v1``/``.v2``)
    takes a table of some of its keys (merged over the default) or one integer that overrides them all; a list
    default takes a list of strings; an empty table default (POL-001's ``geo_codes``) takes any table of strings."""
    if isinstance(default, dict) and not default:
        if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) and x for k, x in v.items()):
            raise _fail(path, key, f"{v!r} is not a table of strings")
        return v
    if isinstance(default, dict):
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
        if not isinstance(v, dict):
            raise _fail(path, key, f"{v!r} is not an integer or a table of {', '.join(default)}")
        for sub, x in v.items():
            if sub not in default:
                raise _fail(path, f"{key}.{sub}", f"unknown key (known: {', '.join(default)})")
            _param(path, f"{key}.{sub}", x, default[sub])
        return {**default, **v}
    if isinstance(default, list):
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise _fail(path, key, f"{v!r} is not a list of strings")
        return v
    if type(v) is not type(default) or (isinstance(v, int) and v < 0):
        raise _fail(path, key, f"{v!r} is not a valid {type(default).__name__}")
    choices = CHOICES.get(key.split(".", 2)[-1])
    if choices and v.casefold() not in {c.casefold() for c in choices}:
        raise _fail(path, key, f"{v!r} is not one of {', '.join(choices)}")
    return v


def load_config(path: str | Path, rules: dict) -> Config:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    cfg = Config()
    for key in doc:
        if key not in ("subscriptions", "management_groups", "rules", "exemptions"):
            raise _fail(path, key, "unknown key (expected subscriptions, management_groups, rules, exemptions)")
    subs = doc.get("subscriptions", [])
    if not isinstance(subs, list) or not all(isinstance(s, str) and s for s in subs):
        raise _fail(path, "subscriptions", "expected a list of subscription ids or names")
    cfg.subscriptions = subs
    groups = doc.get("management_groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise _fail(path, "management_groups", "expected a list of management group ids")
    cfg.management_groups = groups
    rule_tables = doc.get("rules", {})
    if not isinstance(rule_tables, dict):
        raise _fail(path, "rules", "expected a table of rule ids")
    for rid, table in rule_tables.items():
        rule = rules.get(rid)
        if rule is None:
            raise _fail(path, f"rules.{rid}", "unknown rule id")
        if not isinstance(table, dict):
            raise _fail(path, f"rules.{rid}", "expected a table")
        for k, v in table.items():
            key = f"rules.{rid}.{k}"
            if k == "effect":
                if not isinstance(v, str) or v.lower() not in EFFECTS:
                    raise _fail(path, key, f"{v!r} is not Audit or Disabled")
                if EFFECTS[v.lower()] == "Disabled":
                    cfg.disabled.add(rid)
            elif k in rule.params:
                cfg.params.setdefault(rid, {})[k] = _param(path, key, v, rule.params[k])
            else:
                known = ", ".join(["effect", *rule.params]) or "effect"
                raise _fail(path, key, f"unknown parameter (known: {known})")
    exemptions = doc.get("exemptions", [])
    if not isinstance(exemptions, list):
        raise _fail(path, "exemptions", "expected an array of tables ([[exemptions]])")
    for i, ex in enumerate(exemptions):
        where = f"exemptions[{i}]"
        if not isinstance(ex, dict):
            raise _fail(path, where, "expected a table")
        for k in ex:
            if k not in EXEMPTION_KEYS:
                raise _fail(path, f"{where}.{k}", "unknown key")
        ids = ex.get("rules")
        if not isinstance(ids, list) or not ids or not all(isinstance(r, str) for r in ids):
            raise _fail(path, f"{where}.rules", "expected a non-empty list of rule ids")
        for r in ids:
            if r not in rules:
                raise _fail(path, f"{where}.rules", f"unknown rule id {r!r}")
        scope = ex.get("scope")
        if not isinstance(scope, str) or not (scope == "/" or scope.startswith("/")):
            raise _fail(path, f"{where}.scope", "expected an ARM id or scope starting with '/'")
        cat = ex.get("category")
        if not isinstance(cat, str) or cat.lower() not in CATEGORIES:
            raise _fail(path, f"{where}.category", f"{cat!r} is not Waiver or Mitigated")
        just = ex.get("justification", "")
        if not isinstance(just, str):
            raise _fail(path, f"{where}.justification", "expected a string")
        expires = _when(path, f"{where}.expires_on", ex["expires_on"]) if "expires_on" in ex else None
        cfg.exemptions.append(Exemption(rules=tuple(ids), scope="" if scope == "/" else scope,
                                        category=CATEGORIES[cat.lower()], justification=just, expires_on=expires,
                                        name=str(ex.get("name", ""))))
    return cfg
