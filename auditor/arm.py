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
# the workload side (WL-*): the VMs a vault protects (through its AzureWorkload containers and items) and their network
PROTECTION_CONTAINER = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers"
VM = "Microsoft.Compute/virtualMachines"
NSG = "Microsoft.Network/networkSecurityGroups"
ROUTE_TABLE = "Microsoft.Network/routeTables"
VNET_PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
GUARD_PROXY = "Microsoft.RecoveryServices/vaults/backupResourceGuardProxies"
RESOURCE_GUARD = "Microsoft.DataProtection/resourceGuards"
KEY_VAULT = "Microsoft.KeyVault/vaults"
POLICY_ASSIGNMENT = "Microsoft.Authorization/policyAssignments"
POLICY_SET = "Microsoft.Authorization/policySetDefinitions"
POLICY_DEFINITION = "Microsoft.Authorization/policyDefinitions"
MANAGEMENT_GROUP = "Microsoft.Management/managementGroups"
MG_SUBSCRIPTION = "Microsoft.Management/managementGroups/subscriptions"   # a subscription as a group's child

POLICY_ASSIGNMENT = "Microsoft.Authorization/policyAssignments"
POLICY_SET = "Microsoft.Authorization/policySetDefinitions"
POLICY_DEFINITION = "Microsoft.Authorization/policyDefinitions"
MANAGEMENT_GROUP = "Microsoft.Management/managementGroups"
MG_SUBSCRIPTION = "Microsoft.Management/managementGroups/subscriptions"   # a subscription as a group's child

KNOWN_TYPES = (VAULT, STORAGE_CONFIG, PROTECTED_ITEM, VAULT_PE_CONNECTION, PRIVATE_ENDPOINT, ZONE_GROUP, NIC, VNET,
               SUBNET, ZONE, A_RECORD, VNET_LINK, ROLE_ASSIGNMENT, ROLE_DEFINITION, SUBSCRIPTION, PROVIDER, EVENT,
               GUARD_PROXY, RESOURCE_GUARD, KEY_VAULT, PROTECTION_CONTAINER, VM, NSG, ROUTE_TABLE, VNET_PEERING,
               POLICY_ASSIGNMENT, POLICY_SET, POLICY_DEFINITION, MANAGEMENT_GROUP, MG_SUBSCRIPTION)

# Lower-cased spelling -> canonical name, with the other spellings ARM and its tools use for the same type.
CANONICAL = {t.lower(): t for t in KNOWN_TYPES}
CANONICAL["microsoft.recoveryservices/vaults/protectioncontainers/protecteditems"] = PROTECTED_ITEM
CANONICAL["microsoft.resources/subscriptions/providers"] = PROVIDER
CANONICAL["microsoft.recoveryservices/vaults/protectioncontainers"] = PROTECTION_CONTAINER
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
# API versions before 2023-04-01 list vault connections without groupIds; their names carry the group as a label:
# ``pe1.5944358949303501042.backup.<guid>`` (``AzureBackup_secondary`` cannot be told apart there).
_BACKUP_LABEL = re.compile(r"\.backup\.", re.I)

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DNS_ZONE_CONTRIBUTOR = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
BACKUP_CONTRIBUTOR = "5e467623-bb1f-42f4-a55d-6e525e11384b"
BACKUP_OPERATOR = "00c29273-979b-4161-815c-10b084fb9324"
BACKUP_MUA_ADMIN = "c2a970b4-16a7-4a51-8c84-8a8ea6ee0bb8"
BACKUP_MUA_OPERATOR = "f54b6d04-23c6-443e-b462-9c16ab7b4a52"
BUILTIN_ROLES = frozenset({OWNER, CONTRIBUTOR, NETWORK_CONTRIBUTOR, DNS_ZONE_CONTRIBUTOR, BACKUP_CONTRIBUTOR,
                           BACKUP_OPERATOR, BACKUP_MUA_ADMIN, BACKUP_MUA_OPERATOR})   # no need to read them
# Built-in role names, as the rules' parameters and messages spell them.
ROLE_NAMES = {OWNER: "Owner", CONTRIBUTOR: "Contributor", NETWORK_CONTRIBUTOR: "Network Contributor",
              DNS_ZONE_CONTRIBUTOR: "Private DNS Zone Contributor", BACKUP_CONTRIBUTOR: "Backup Contributor",
              BACKUP_OPERATOR: "Backup Operator", BACKUP_MUA_ADMIN: "Backup MUA Admin",
              BACKUP_MUA_OPERATOR: "Backup MUA Operator"}
ROLE_BY_NAME = {n.lower(): g for g, n in ROLE_NAMES.items()}
# RSV-012 (MU): roles on a Resource Guard that override MUA; Owner is a superset of Contributor.
GUARD_ROLES = (OWNER, CONTRIBUTOR, BACKUP_MUA_ADMIN, BACKUP_MUA_OPERATOR)

# Azure Policy built-ins (Azure/azure-policy built-in-policies/policyDefinitions; GUID = name)
POLICY_PRIVATE_LINK = "deeddb44-9f94-4903-9fa0-081d524406e3"        # should use private link for backup
POLICY_PNA_AUDIT_DENY = "9ebbbba3-4d65-4da9-bb67-b22cfaaff090"      # should disable public network access
POLICY_PNA_MODIFY = "04726aae-4e8d-427c-af7d-ecf56d490022"          # configure ... to disable public network access
POLICY_DNS_BACKUP = "af783da1-4ad1-42be-800d-d19c70038820"          # configure ... private DNS zones for backup
POLICY_DNS_ASR = "942bd215-1a66-44be-af65-6a1c0318dbe2"             # configure ... private DNS zones (Site Recovery)
POLICY_IMMUTABILITY = "d6f6f560-14b7-49a4-9fc8-d2c3a9807868"
POLICY_SOFT_DELETE = "31b8092a-36b8-434b-9af7-5ec844364148"
POLICY_MUA = "c7031eab-0fc0-4cd9-acd0-4497bd66d91a"
POLICY_CROSS_SUB_RESTORE = "f19b0c83-716f-4b81-85e3-2dbf057c35d6"
POLICY_CMK = "2e94d99a-8a36-4563-bc77-810d8893b671"
POLICY_KV_FIREWALL = "55615ac9-af46-4a59-874e-391cc3dfb490"         # Key Vault: firewall enabled
POLICY_KV_PNA = "405c5871-3e91-4644-8a63-58e19d68ff5b"              # Key Vault: public network access disabled

REGISTER_ACTION = "microsoft.recoveryservices/register/action"
CREATE_PE_ACTION = "microsoft.network/privateendpoints/write"
JOIN_SUBNET_ACTION = "microsoft.network/virtualnetworks/subnets/join/action"
WRITE_DNS_A_ACTION = "microsoft.network/privatednszones/a/write"
REREGISTER_CUTOFF = "2020-05-01T00:00:00Z"          # the seed's "registered before May 1 2020"
RECOVERY_SERVICES = "Microsoft.RecoveryServices"
MANAGEMENT_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"
WORKLOAD_MANAGEMENT = "azureworkload"                # backupManagementType of SQL/SAP HANA/ASE in a VM (lower-cased)
VM_IN_ID = "/providers/microsoft.compute/virtualmachines/"
# WL-003/004: the NSG destinations that cover Microsoft Entra ID, a private endpoint's IP; the outbound defaults
ENTRA_DESTINATIONS = frozenset({"*", "0.0.0.0/0", "internet", "azurecloud", "azureactivedirectory"})
NSG_DEFAULT_OUTBOUND = (   # (name, priority, source, destination, access) when an NSG lists no defaultSecurityRules
    ("AllowVnetOutBound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow"),
    ("AllowInternetOutBound", 65001, "*", "Internet", "Allow"),
    ("DenyAllOutBound", 65500, "*", "*", "Deny"),
)
FORWARDING_HOPS = frozenset({"virtualappliance", "virtualnetworkgateway"})   # WL-002: routes not judged from config

# ------------------------------------------------------------------------------------------------------------
# Azure Policy built-ins the POL rules read (id: /providers/Microsoft.Authorization/policyDefinitions/<GUID>), and
# the parameter defaults of each (Azure/azure-policy, built-in-policies/policyDefinitions, commit f4a50bac)
# ------------------------------------------------------------------------------------------------------------
VAULT_CREATING_DINES = ("98d0b9f8-fd90-49c9-88e2-d3baf3b0dd86", "83644c87-93dd-49fe-bf9f-6aff8fd0834e",
                        "9e47cad9-bcdb-42dd-8c9b-a81e15ca2842", "f32ca068-2ada-4705-b5b5-84ce89422846")
BUILTIN_POLICY_DEFAULTS = {
    POLICY_DNS_BACKUP: {"effect": "DeployIfNotExists"},
    POLICY_DNS_ASR: {"effect": "DeployIfNotExists"},
    POLICY_PNA_AUDIT_DENY: {"effect": "Audit"},
    POLICY_PNA_MODIFY: {"effect": "Modify"},
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


def host_of(uri) -> str | None:
    """The lower-cased host of a key vault URI (``https://kv.vault.azure.net/keys/k/v`` -> ``kv.vault.azure.net``;
    the scheme and a port are optional), or None."""
    if not isinstance(uri, str) or not uri:
        return None
    return uri.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower() or None


def is_backup_connection_name(name) -> bool:
    """A vault connection's name (or id: its last segment is taken) carries the label ``backup`` between dots, the
    way API versions before 2023-04-01 tell a backup connection without ``groupIds`` (case-insensitive)."""
    if not isinstance(name, str) or not name:
        return False
    return bool(_BACKUP_LABEL.search(name.rstrip("/").rsplit("/", 1)[-1]))


def connection_groups(groups, conn_id=None, name=None) -> frozenset[str]:
    """The lower-cased group ids of a vault-side private endpoint connection: its ``groupIds`` where it lists any,
    else ``{"azurebackup"}`` when its name or the last segment of its id says backup (the rule catalogue's terms), else none."""
    listed = frozenset(str(g).lower() for g in groups or () if g)
    if listed:
        return listed
    if is_backup_connection_name(name) or is_backup_connection_name(conn_id):
        return frozenset({BACKUP})
    return frozenset()


def role_guid(role_definition_id: str) -> str:
    """The GUID a role definition id ends with, lower-cased."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
