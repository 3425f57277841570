"""The least-privilege custom role: exactly the read actions the collectors use, generated from their declarations.

    python -m auditor.privileges > least-privilege-role.json
    python -m auditor.privileges --assignable-scope /subscriptions/<id> > role.json
    az role definition create --role-definition @role.json

Each collector in :data:`auditor.collect.COLLECTORS` declares the Azure RBAC action its call needs (``action``;
Resource Graph queries need :data:`auditor.collect.GRAPH_ACTION`); :func:`action_for` derives the action an ARM
request path needs (the way ARM authorises it: ``<namespace>/<type>[/<child type>...]/read``), so a test can check
every request a live run makes against the role.
"""
from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import urlsplit

PLACEHOLDER_SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000000"
ROLE_NAME = "Azure Backup private endpoint auditor (read only)"
DESCRIPTION = ("Reads what rsv-pe-auditor audits: Recovery Services vaults, their private endpoints, network "
               "interfaces, virtual networks, private DNS zones, records and links, role assignments, resource "
               "providers and the Recovery Services activity log. No write, delete or action permissions.")


def actions() -> list[str]:
    """The actions every collector (and the Resource Graph source) needs, sorted, each once."""
    from .collect import COLLECTORS, GRAPH_ACTION

    missing = sorted(name for name, c in COLLECTORS.items() if not c.action)
    if missing:
        raise RuntimeError(f"collectors without an RBAC action: {', '.join(missing)}")
    out: dict[str, str] = {}
    for action in [*(c.action for c in COLLECTORS.values()), GRAPH_ACTION]:
        out.setdefault(action.lower(), action)
    return sorted(out.values(), key=str.lower)


def role_definition(scopes: list[str] | None = None) -> dict:
    """The role as ``az role definition create --role-definition`` takes it."""
    return {"Name": ROLE_NAME, "IsCustom": True, "Description": DESCRIPTION, "Actions": actions(),
            "NotActions": [], "DataActions": [], "NotDataActions": [],
            "AssignableScopes": list(scopes or [PLACEHOLDER_SCOPE])}


def render(scopes: list[str] | None = None) -> str:
    return json.dumps(role_definition(scopes), indent=2) + "\n"


def action_for(method: str, url_or_path: str) -> str | None:
    """The RBAC action ARM checks for a read request (None for anything that is not a read this tool makes).

    ``GET /subscriptions`` and ``/subscriptions/<id>``: subscriptions/read; ``GET
    /subscriptions/<id>/providers/<NS>``: subscriptions/providers/read; otherwise the namespace and the resource
    types after the last ``providers`` segment (names dropped), plus ``/read``; ``POST
    /providers/Microsoft.ResourceGraph/resources``: ``Microsoft.ResourceGraph/resources/read``."""
    segs = [s for s in urlsplit(url_or_path).path.split("/") if s]
    low = [s.lower() for s in segs]
    if method.upper() == "POST":
        return "Microsoft.ResourceGraph/resources/read" if low == ["providers", "microsoft.resourcegraph",
                                                                   "resources"] else None
    if method.upper() != "GET":
        return None
    if low == ["subscriptions"] or (len(low) == 2 and low[0] == "subscriptions"):
        return "Microsoft.Resources/subscriptions/read"
    if "providers" not in low:
        return None
    i = len(low) - 1 - low[::-1].index("providers")
    tail = segs[i + 1:]
    if len(tail) == 1:
        return "Microsoft.Resources/subscriptions/providers/read" if low[:1] == ["subscriptions"] else None
    return "/".join([tail[0], *tail[1::2], "read"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m auditor.privileges", description=__doc__.split("\n\n")[0])
    p.add_argument("--assignable-scope", action="append", default=[], metavar="SCOPE",
                   help=f"repeatable; default {PLACEHOLDER_SCOPE} (replace it before creating the role)")
    args = p.parse_args(argv)
    sys.stdout.write(render(args.assignable_scope))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
