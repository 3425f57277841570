"""The building blocks of the concrete fixes: the phases, the fallback texts, :class:`Step`, :class:`Fixes`, the
shell quoting and the step collector (see :mod:`auditor.model.fixes`)."""
from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field

from ... import arm

# phases: the order of the steps of one vault (auditor.plan keeps it); public access comes last of all
REGISTER, APPROVE, RECORD, STALE, LINK, IDENTITY, GRANT, REVIEW, PUBLIC = range(9)
ROLE_NAMES = {arm.CONTRIBUTOR: "Contributor", arm.NETWORK_CONTRIBUTOR: "Network Contributor",
              arm.DNS_ZONE_CONTRIBUTOR: "Private DNS Zone Contributor"}
NEED_ROLE = {"rg": arm.CONTRIBUTOR, "vnet": arm.NETWORK_CONTRIBUTOR, "zone": arm.DNS_ZONE_CONTRIBUTOR}
VAULT_API = "2024-04-01"   # Microsoft.RecoveryServices/vaults, for the az rest fallback of RSV-001's PATCH
NEED_KIND = {"rg": "resource group", "vnet": "virtual network", "zone": "private DNS zone"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# the remediation of a row that has no concrete fix (Error and Exempt rows, data the auditor lacks)
FALLBACK = {
    "DNS-001": "add the missing A record(s) (az network private-dns record-set a add-record --subscription "
               "<zone-subscription> --resource-group <zone-resource-group> --zone-name <zone> --record-set-name "
               "<record> --ipv4-address <endpoint-ip>), or attach a DNS zone group so Azure keeps them",
    "DNS-002": "grant the vault's identity Private DNS Zone Contributor on the zone, or add the record(s) by hand "
               "(az network private-dns record-set a add-record --subscription <zone-subscription> --resource-group "
               "<zone-resource-group> --zone-name <zone> --record-set-name <record> --ipv4-address <endpoint-ip>)",
    "DNS-003": "point the record at the endpoint's IP (az network private-dns record-set a add-record, then "
               "remove-record of the old address)",
    "DNS-004": "link the zone to the endpoint's VNet (az network private-dns link vnet create --subscription "
               "<zone-subscription> --resource-group <zone-resource-group> --zone-name <zone> --name <link-name> "
               "--virtual-network <vnet-id> --registration-enabled false)",
    "PE-001": "approve the vault's side of the connection (az network private-endpoint-connection approve "
              "--subscription <vault-subscription> --resource-group <vault-resource-group> --resource-name "
              "<vault-name> --type Microsoft.RecoveryServices/vaults --name <connection-name>)",
    "DNS-005": "az network private-endpoint dns-zone-group update --subscription <endpoint-subscription> "
               "--resource-group <endpoint-resource-group> --endpoint-name <endpoint> --name <zone-group-name> "
               "--private-dns-zone <zone-id-in-the-vault-subscription>",
    "PE-002": "az network private-endpoint delete, then az network private-endpoint create in the same subnet "
              "(--group-id AzureBackup)",
    "RSV-001": "az backup vault update --subscription <vault-subscription> --resource-group <vault-resource-group> "
               "--name <vault-name> --public-network-access Disable",
    "RSV-002": "az network private-endpoint create --subscription <vault-subscription> --resource-group "
               "<resource-group> --name <endpoint-name> --subnet <subnet-id> --private-connection-resource-id "
               "<vault-id> --group-id AzureBackup --connection-name <endpoint-name>",
    "RSV-005": "az backup vault identity assign --system-assigned --subscription <vault-subscription> "
               "--resource-group <vault-resource-group> --name <vault-name>",
    "RSV-006": "az backup vault identity remove --system-assigned ...; az backup vault identity assign "
               "--system-assigned ... (--subscription <vault-subscription> --resource-group <vault-resource-group> "
               "--name <vault-name>)",
    "RSV-007": "az backup vault create --subscription <vault-subscription> --resource-group <resource-group> "
               "--name <new-vault-name> --location <region>",
    "SUB-001": "az provider register --namespace Microsoft.RecoveryServices --subscription <subscription-id>",
    "SUB-002": "az provider register --namespace Microsoft.RecoveryServices --subscription <subscription-id>",
    "DNS-006": "privatelink.<geo>.backup.windowsazure.com, privatelink.blob.core.windows.net and "
               "privatelink.queue.core.windows.net (the zones of the VNet's endpoints)",
    "IAM-001": "grant the vault's identity each missing role (az role assignment create --subscription "
               "<scope-subscription> --assignee-object-id <vault-principal-id> --assignee-principal-type "
               "ServicePrincipal --role <role> --scope <scope>)",
}


def clean(text: object) -> str:
    """One line of inert text (for comments and messages): no newline, control or bidi characters."""
    return _UNSAFE.sub(" ", str(text))


def q(value: object) -> str:
    """A shell word (quoted only where needed)."""
    return shlex.quote(clean(value))


def az(*parts: object) -> str:
    """``az`` and its words, each a shell word (values quoted where they need it)."""
    return " ".join(["az", *(q(p) for p in parts)])


@dataclass
class Step:
    """One change of the plan."""
    phase: int
    sub: str                       # the subscription the command changes (named by --subscription)
    vault: str                     # lower-cased vault id the step belongs to ('' for a subscription's own steps)
    key: str                       # identity of the change (the same change asked by two findings is one step)
    what: str                      # one line for people
    command: str                   # the plain az command(s), as the finding's remediation shows them
    script: list[str]              # the bash lines (guards make them idempotent)
    targets: list[tuple[str, str]] = field(default_factory=list)   # (rule id, lower-cased subject id) it fixes
    review: str = ""               # why a person must decide first: the step is emitted commented out
    requires_any: tuple[str, ...] = ()   # PUBLIC: keys of approval steps, one of which makes a usable endpoint
    usable_now: bool = False       # PUBLIC: the vault already has an approved, healthy backup endpoint
    blocked_by: tuple[str, ...] = ()     # PUBLIC: keys of review steps on the vault's endpoints that come first


class Fixes(dict):
    """rule id -> remediation text of one row; a rule without a concrete fix reads its generic text."""

    def __missing__(self, key: str) -> str:
        return FALLBACK.get(key, "see auditor plan")


NO_FIXES = Fixes()


def id_parts(rid: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an id, case as given."""
    sub, rg, names = arm.segments(rid)
    return sub, rg, (names[-1] if names else rid.rstrip("/").rsplit("/", 1)[-1])


def rg_scope(rid: str) -> str:
    sub, rg, _ = id_parts(rid)
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def link_name(vnet_rid: str) -> str:
    name = id_parts(vnet_rid)[2]
    digest = hashlib.sha256(vnet_rid.lower().encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{name}"[:60]) + f"-link-{digest}"


class Plan:
    """Collects steps, merging the same change asked by several findings."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}

    def add(self, step: Step, *targets: tuple[str, str]) -> Step:
        have = self.steps.get(step.key)
        if have is None:
            self.steps[step.key] = have = step
        for t in targets:
            if t not in have.targets:
                have.targets.append(t)
        return have
