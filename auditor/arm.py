"""The one ARM vocabulary: type names, id parsing, built-in role GUIDs, group ids and the constants the rules rest on.

Everything that knows how Azure Resource Manager spells things lives here; ingest, the collector, the model and the
rules import it (``from auditor import arm``; rules say ``reads=(arm.VAULT, ...)``). Ids are compared lower-cased:
ARM is case-insensitive and real exports mix cases.
"""
from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------------------------
# Type names (canonical spelling; routing compares them lower-cased)
# ---------------------------------------------------------------------------------------------------------------
VAULT = "Microsoft.RecoveryServices/vaults"
STORAGE_CONFIG = "Microsoft.RecoveryServices/vaults/backupstorageconfig"
PROTECTED_ITEM = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
VAULT_PE_CONNECTION = "Microsoft.RecoveryServices/vaults/privateEndpointConnections"
PRIVATE_ENDPOINT = "Microsoft.Network/privateEndpoints"
ZONE_GROUP = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
NIC = "Microsoft.Network/networkInterfaces"
VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
ZONE = "Microsoft.Network/privateDnsZones"
A_RECORD = "Microsoft.Network/privateDnsZones/A"
VNET_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITION = "Microsoft.Authorization/roleDefinitions"
SUBSCRIPTION = "Microsoft.Resources/subscriptions"
PROVIDER = "Microsoft.Resources/providers"
EVENT = "Microsoft.Insights/eventtypes/values"
POLICY_ASSIGNMENT = "Microsoft.Authorization/policyAssignments"
POLICY_SET = "Microsoft.Authorization/policySetDefinitions"
POLICY_DEFINITION = "Microsoft.Authorization/policyDefinitions"
MANAGEMENT_GROUP = "Microsoft.Management/managementGroups"
MG_SUBSCRIPTION = "Microsoft.Management/managementGroups/subscriptions"   # a subscription as a group's child

KNOWN_TYPES = (VAULT, STORAGE_CONFIG, PROTECTED_ITEM, VAULT_PE_CONNECTION, PRIVATE_ENDPOINT, ZONE_GROUP, NIC, VNET,
               SUBNET, ZONE, A_RECORD, VNET_LINK, ROLE_ASSIGNMENT, ROLE_DEFINITION, SUBSCRIPTION, PROVIDER, EVENT,
               POLICY_ASSIGNMENT, POLICY_SET, POLICY_DEFINITION, MANAGEMENT_GROUP, MG_SUBSCRIPTION)

# Lower-cased spelling -> canonical name, with the other spellings ARM and its tools use for the same type.
CANONICAL = {t.lower(): t for t in KNOWN_TYPES}
CANONICAL["microsoft.recoveryservices/vaults/protectioncontainers/protecteditems"] = PROTECTED_ITEM
CANONICAL["microsoft.resources/subscriptions/providers"] = PROVIDER
# the management group descendants API lists subscriptions as {"type": "/subscriptions", "properties": {"parent"}}
CANONICAL["/subscriptions"] = MG_SUBSCRIPTION


def canonical(arm_type: str | None) -> str | None:
    """The canonical spelling of a known type (any case), else None."""
    return CANONICAL.get(arm_type.lower()) if isinstance(arm_type, str) else None


# ---------------------------------------------------------------------------------------------------------------
# Private endpoint group ids, roles, actions and dates
# ---------------------------------------------------------------------------------------------------------------
BACKUP = "azurebackup"
SECONDARY = "azurebackup_secondary"
BACKUP_GROUPS = frozenset({BACKUP, SECONDARY})      # lower-cased; AzureSiteRecovery is not Backup

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DNS_ZONE_CONTRIBUTOR = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
BUILTIN_ROLES = frozenset({OWNER, CONTRIBUTOR, NETWORK_CONTRIBUTOR, DNS_ZONE_CONTRIBUTOR})   # no need to read them

REGISTER_ACTION = "microsoft.recoveryservices/register/action"
CREATE_PE_ACTION = "microsoft.network/privateendpoints/write"
JOIN_SUBNET_ACTION = "microsoft.network/virtualnetworks/subnets/join/action"
WRITE_DNS_A_ACTION = "microsoft.network/privatednszones/a/write"
REREGISTER_CUTOFF = "2020-05-01T00:00:00Z"          # the seed's "registered before May 1 2020"
RECOVERY_SERVICES = "Microsoft.RecoveryServices"
MANAGEMENT_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"

# ------------------------------------------------------------------------------------------------------------
# Azure Policy built-ins the POL rules read (id: /providers/Microsoft.Authorization/policyDefinitions/<GUID>), and
# the parameter defaults of each (Azure/azure-policy, built-in-policies/policyDefinitions, commit f4a50bac)
# ------------------------------------------------------------------------------------------------------------
BACKUP_DNS_DINE = "af783da1-4ad1-42be-800d-d19c70038820"      # Configure RS vaults to use private DNS zones for backup
ASR_DNS_DINE = "942bd215-1a66-44be-af65-6a1c0318dbe2"         # ... for Site Recovery (groupIds AzureSiteRecovery)
VAULT_PNA_AUDIT_DENY = "9ebbbba3-4d65-4da9-bb67-b22cfaaff090"  # RS vaults should disable public network access
VAULT_PNA_MODIFY = "04726aae-4e8d-427c-af7d-ecf56d490022"      # Configure RS vaults to disable public network access
VAULT_CREATING_DINES = ("98d0b9f8-fd90-49c9-88e2-d3baf3b0dd86", "83644c87-93dd-49fe-bf9f-6aff8fd0834e",
                        "9e47cad9-bcdb-42dd-8c9b-a81e15ca2842", "f32ca068-2ada-4705-b5b5-84ce89422846")
BUILTIN_POLICY_DEFAULTS = {
    BACKUP_DNS_DINE: {"effect": "DeployIfNotExists"},
    ASR_DNS_DINE: {"effect": "DeployIfNotExists"},
    VAULT_PNA_AUDIT_DENY: {"effect": "Audit"},
    VAULT_PNA_MODIFY: {"effect": "Modify"},
    **{g: {"effect": "DeployIfNotExists"} for g in VAULT_CREATING_DINES},
}
BACKUP_ZONE = re.compile(r"^privatelink\.([a-z0-9]+)\.backup\.")    # on a lower-cased zone name: its geo code

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SUB_ID = re.compile(r"^/subscriptions/([^/]+)/?$", re.I)
PROVIDER_ID = re.compile(r"^/subscriptions/([^/]+)/providers/([^/]+)/?$", re.I)
ZONE_IN_ID = re.compile(r"/providers/microsoft\.network/privatednszones/([^/]+)")    # on a lower-cased id
RG_IN_ID = re.compile(r"/resourceGroups/([^/]+)", re.I)
RG_PREFIX = re.compile(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+)")             # on a lower-cased id
VAULT_PREFIX = re.compile(
    r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)")


# ---------------------------------------------------------------------------------------------------------------
# Id parsing
# ---------------------------------------------------------------------------------------------------------------
def type_from_id(rid: str) -> str | None:
    """The ARM type an id names: ``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> ``NS/t1/t2``."""
    parts = [p for p in rid.split("/") if p]
    low = [p.lower() for p in parts]
    if "providers" not in low:
        return SUBSCRIPTION if len(parts) == 2 and low[0] == "subscriptions" else None
    i = len(low) - 1 - low[::-1].index("providers")
    rest = parts[i + 1:]
    if len(rest) == 1:
        return PROVIDER if low[0] == "subscriptions" else None
    if len(rest) < 3:
        return None
    return "/".join([rest[0]] + rest[1::2])


def parent(rid: str, segment: str) -> str:
    """The id up to (excluding) the last ``/<segment>/`` (case-insensitive), lower-cased."""
    low = rid.lower()
    i = low.rfind("/" + segment.lower() + "/")
    return low[:i] if i >= 0 else low


def vnet_of(subnet_id: str | None) -> str | None:
    """The (lower-cased) VNet id of a subnet id, None when it names no subnet."""
    if not subnet_id:
        return None
    low = subnet_id.lower()
    i = low.rfind("/subnets/")
    return low[:i] if i >= 0 else None


def vnet_of_as_given(subnet_id) -> str | None:
    """The VNet id of a subnet id, spelled as given (the collector fetches it by that id)."""
    if not isinstance(subnet_id, str) or "/subnets/" not in subnet_id.lower():
        return None
    return subnet_id[:subnet_id.lower().rindex("/subnets/")]


def id_parts(rid: str) -> tuple[str, str, str]:
    """(subscription id, resource group, last name) of an ARM id, lower-cased except the name."""
    parts = rid.split("/")
    n = len(parts)
    sub = parts[2].lower() if n > 2 and parts[1].lower() == "subscriptions" else ""
    rg = parts[4].lower() if n > 4 and parts[3].lower() == "resourcegroups" else ""
    return sub, rg, parts[-1]


def sub_and_group(rid: str) -> tuple[str, str]:
    """The subscription and resource group a *lower-cased* id names, '' where none: the segment after a leading
    ``/subscriptions/`` and the first non-empty one after a ``resourcegroups`` segment (case as given)."""
    parts = rid.split("/")
    n = len(parts)
    sub = parts[2] if n > 2 and parts[1] == "subscriptions" and not parts[0] else ""
    j = 0
    while "resourcegroups" in parts[j + 1:]:
        j = parts.index("resourcegroups", j + 1)
        if j + 1 < n and parts[j + 1]:
            return sub, parts[j + 1]
    return sub, ""


def loose_subscription(rid: str) -> str:
    """The segment where an id names its subscription (``/subscriptions/<sub>/...``: the third ``/``-separated
    part), '' where the id has fewer parts; the other segments are not checked (ids as other resources quote them,
    e.g. the zone ids of a private DNS zone group)."""
    parts = rid.split("/")
    return parts[2] if len(parts) > 2 else ""


def segments(rid) -> tuple[str, str, list[str]]:
    """``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> (s, g, [n1, n2]), case as given."""
    segs = [s for s in str(rid).split("/") if s]
    low = [s.lower() for s in segs]
    sub = segs[1] if len(segs) > 1 and low[0] == "subscriptions" else ""
    rg = segs[3] if len(segs) > 3 and low[2] == "resourcegroups" else ""
    if "providers" not in low:
        return sub, rg, []
    i = len(low) - 1 - low[::-1].index("providers")
    return sub, rg, segs[i + 3::2]


def subscription_of(rid) -> str:
    """The lower-cased subscription id an id names ('' where none)."""
    return segments(rid)[0].lower()


def covers(scope: str, rid: str) -> bool:
    """A scope covers a resource id (both lower-cased): equal, or a prefix followed by ``/``; ``/`` and management
    groups cover everything."""
    if scope in ("", "/") or scope.startswith(MANAGEMENT_GROUP_PREFIX):
        return True
    return rid == scope or rid.startswith(scope + "/")


def role_guid(role_definition_id: str) -> str:
    """The GUID a role definition id ends with, lower-cased."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
