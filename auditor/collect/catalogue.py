"""What the collector reads, as data: one :class:`Collector` per SDK call, and what each call's answers lead to.

A collector names its SDK client and call, the ARM type it returns, the level of its subject (``tenant``,
``subscription``, or a resource id: ``vault``, ``pe``, ``zone``, ``id``), the Azure RBAC action the call needs (the
least-privilege role is generated from these: ``python -m auditor.privileges``), which of the returned objects are
kept (``keep``) and its follow-ups (``then``): for each returned object, the ids it names and the collectors to read
them with. The enumerator interprets ``then`` with one generic function (:meth:`Enumerator.follow`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .. import arm
from .settings import EVENT_FIELDS, EVENT_WINDOW_DAYS

SUBS = "azure.mgmt.resource.subscriptions:SubscriptionClient"
RES = "azure.mgmt.resource.resources:ResourceManagementClient"
RSV = "azure.mgmt.recoveryservices:RecoveryServicesClient"
BKP = "azure.mgmt.recoveryservicesbackup:RecoveryServicesBackupClient"
NET = "azure.mgmt.network:NetworkManagementClient"
DNS = "azure.mgmt.privatedns:PrivateDnsManagementClient"
AUTH = "azure.mgmt.authorization:AuthorizationManagementClient"
MON = "azure.mgmt.monitor:MonitorManagementClient"
GRAPH_CLIENT = "azure.mgmt.resourcegraph:ResourceGraphClient"
COMPUTE = "azure.mgmt.compute:ComputeManagementClient"
KV = "azure.mgmt.keyvault:KeyVaultManagementClient"
DPP = "azure.mgmt.dataprotection:DataProtectionMgmtClient"
POLICY = "azure.mgmt.resource.policy:PolicyClient"          # azure-mgmt-resource-policy
MGMT = "azure.mgmt.managementgroups:ManagementGroupsMgmtClient"
TENANT_CLIENTS = ("azure.mgmt.resource.subscriptions:SubscriptionClient", GRAPH_CLIENT, MGMT)   # no subscription id
WORKLOAD_FILTER = "backupManagementType eq 'AzureWorkload'"
# where a 404 on a child list means its parent is gone (ARM answers a live parent's empty collection with a list)
GONE_LEVELS = ("vault", "pe", "zone", "vnet", "guard", "mg")
GRAPH_ACTION = "Microsoft.ResourceGraph/resources/read"   # the POST of --source resource-graph queries
RG = "resource_group_name"


@dataclass(frozen=True)
class Read:
    """One follow-up read of an id found in an object. ``subject`` says what the read is about: ``id`` (the id
    found), ``subscription`` (the id's subscription), ``listed`` (the subject of the call that returned the object),
    ``by_listing`` (the id found, read with the listing's client: e.g. a built-in policy set definition),
    ``in_scope`` (every audited subscription, once),
    ``principal`` / ``assignment`` (a vault's managed identity, a role assignment: custom role definitions are read
    once both sides of an assignment to a vault's identity are known)."""
    collector: str
    subject: str = "id"


@dataclass(frozen=True)
class Then:
    """Follow-ups: for each id ``ids`` finds in a returned object, every read of ``reads``. ``scope`` keeps the ids
    in subscriptions that were not listed (``out``: references fetched by id), or in those that were (``in``);
    ``source`` limits the follow-up to one source (``arm``: Resource Graph lists those objects itself)."""
    ids: Callable[[Any], list]
    reads: tuple[Read, ...]
    scope: str = "any"
    source: str | None = None


@dataclass(frozen=True)
class Collector:
    """One SDK call. ``names`` are the keyword arguments that take the subject's resource group and resource names,
    in id order; ``id_kw`` the one that takes the whole id."""
    name: str
    client: str
    call: str
    type: str
    level: str
    action: str = ""
    kwargs: dict | Callable[[], dict] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    id_kw: str | None = None
    single: bool = False        # a GET: 404 means gone (so does a 404 on a child list; a subscription list: error)
    first_page: bool = False    # existence is all the rules need
    follow_up: bool = False     # a subscription-level list read only when an answer leads to it (not for every one)
    args: Callable[[str], dict] | None = None   # keyword arguments from the subject id, where names do not fit
    then: tuple[Then, ...] = ()
    keep: Callable[[list], list] | None = None


# -- reading ARM JSON (tolerant: a malformed object must not stop the run; ingest reports it) -------------------------

def get(d: Any, *path: str) -> Any:
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def as_list(x: Any) -> list:
    return x if isinstance(x, list) else []


def _groups(conn: Any) -> set[str]:
    return {str(g).lower() for g in as_list(get(conn, "properties", "groupIds"))}


def backup_vault_refs(vault: Any) -> tuple[bool, list[str]]:
    """Whether the vault has a backup PE connection (vault side), and the PE ids its connections name. A connection
    without groupIds (API versions before 2023-04-01) is a backup one only when its name says so
    (:func:`arm.connection_groups`)."""
    backup, refs = False, []
    for c in as_list(get(vault, "properties", "privateEndpointConnections")):
        groups = arm.connection_groups(as_list(get(c, "properties", "groupIds")), get(c, "id"), get(c, "name"))
        if not groups & arm.BACKUP_GROUPS:
            continue  # e.g. AzureSiteRecovery, or a groupId-less connection whose name has no 'backup' label
        backup = True
        pe = get(c, "properties", "privateEndpoint", "id")
        if isinstance(pe, str):
            refs.append(pe)
    return backup, refs


def pe_backup_targets(pe: Any) -> list[str]:
    """The vault ids a PE connects to with a backup group id (empty: not a backup PE)."""
    props = get(pe, "properties") or {}
    conns = [*as_list(get(props, "privateLinkServiceConnections")),
             *as_list(get(props, "manualPrivateLinkServiceConnections"))]
    out = []
    for c in conns:
        target = get(c, "properties", "privateLinkServiceId")
        if isinstance(target, str) and "/providers/microsoft.recoveryservices/vaults/" in target.lower() \
                and _groups(c) & arm.BACKUP_GROUPS:
            out.append(target)
    return out


def _own_id(obj: Any) -> list[str]:
    rid = get(obj, "id")
    return [rid] if isinstance(rid, str) else []


def _vault_principal(v: Any) -> list[str]:
    p = get(v, "identity", "principalId")
    return [p.lower()] if _own_id(v) and isinstance(p, str) else []


def _backup_vault(v: Any) -> list[str]:
    return _own_id(v) if _own_id(v) and backup_vault_refs(v)[0] else []


def _other_vault(v: Any) -> list[str]:
    return _own_id(v) if _own_id(v) and not backup_vault_refs(v)[0] else []


def _vault_pe_refs(v: Any) -> list[str]:
    backup, refs = backup_vault_refs(v)
    return refs if _own_id(v) and backup else []


def _backup_pe(pe: Any) -> bool:
    return bool(_own_id(pe)) and bool(pe_backup_targets(pe))


def _pe_nics(pe: Any) -> list:
    return [get(n, "id") for n in as_list(get(pe, "properties", "networkInterfaces"))] if _backup_pe(pe) else []


def _pe_vnet(pe: Any) -> list:
    return [arm.vnet_of_as_given(get(pe, "properties", "subnet", "id"))] if _backup_pe(pe) else []


def _zone_group_zones(zg: Any) -> list:
    configs = as_list(get(zg, "properties", "privateDnsZoneConfigs"))
    return [get(cfg, "properties", "privateDnsZoneId") for cfg in configs]


def _assignment(ra: Any) -> list[tuple[str, str]]:
    p, rd = get(ra, "properties", "principalId"), get(ra, "properties", "roleDefinitionId")
    return [(p.lower(), rd)] if isinstance(p, str) and isinstance(rd, str) else []


def _register_events(events: list) -> list:
    """The activity log's provider registrations, trimmed to :data:`EVENT_FIELDS`."""
    def is_register(e: Any) -> bool:
        op = get(e, "operationName", "value") if isinstance(get(e, "operationName"), dict) else get(e, "operationName")
        return isinstance(op, str) and op.lower() == arm.REGISTER_ACTION
    return [{k: e[k] for k in EVENT_FIELDS if k in e} if isinstance(e, dict) else e for e in events if is_register(e)]


def _custom_roles(defs: list) -> list:
    return [d for d in defs if str(get(d, "properties", "type") or "").lower() == "customrole"]


def _event_kwargs() -> dict:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=EVENT_WINDOW_DAYS)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"filter": f"eventTimestamp ge '{start.strftime(fmt)}' and eventTimestamp le '{now.strftime(fmt)}' "
                      "and resourceProvider eq 'Microsoft.RecoveryServices'",
            "select": ",".join(EVENT_FIELDS)}


def _ids_at(obj: Any, *path: str) -> list[str]:
    rid = get(obj, *path)
    return [rid] if isinstance(rid, str) and rid else []


def _workload_vm(container: Any) -> list[str]:
    """The VM an AzureWorkload protection container (or protected item) names."""
    p = get(container, "properties") or {}
    bmt, src = get(p, "backupManagementType"), get(p, "sourceResourceId")
    if isinstance(bmt, str) and bmt.lower() == arm.WORKLOAD_MANAGEMENT and isinstance(src, str) \
            and arm.VM_IN_ID in src.lower():
        return [src]
    return []


def _no_peerings(vnet: Any) -> list[str]:
    """A VNet whose body does not carry its peerings (ARM's GET and list do; some exports and proxies do not)."""
    props = get(vnet, "properties")
    return _own_id(vnet) if isinstance(props, dict) and "virtualNetworkPeerings" not in props else []


def _cmk_vault(v: Any) -> list[str]:
    """A vault encrypted with a customer-managed key (whether it uses private endpoints may show only on a PE's
    side, so every CMK vault counts)."""
    uri = get(v, "properties", "encryption", "keyVaultProperties", "keyUri")
    return _own_id(v) if isinstance(uri, str) and uri else []


def _set_definition(kind: str) -> Callable[[Any], list[str]]:
    """The policy set definition an assignment names, by id form: ``builtin`` (/providers/...), ``subscription``
    or ``group`` (a management group's)."""
    def ids(a: Any) -> list[str]:
        rid = get(a, "properties", "policyDefinitionId")
        if not isinstance(rid, str) or "/policysetdefinitions/" not in rid.lower():
            return []
        low = rid.lower()
        form = "subscription" if low.startswith("/subscriptions/") else \
            "group" if low.startswith(arm.MANAGEMENT_GROUP_PREFIX) else "builtin"
        return [rid] if form == kind else []
    return ids


def _assignment_groups(a: Any) -> list[str]:
    """The management groups an assignment's scope and notScopes name (the hierarchy its coverage rests on)."""
    p = get(a, "properties") or {}
    scopes = [get(p, "scope"), *as_list(get(p, "notScopes"))]
    rid = get(a, "id")
    if isinstance(rid, str) and "/providers/microsoft.authorization/policyassignments/" in rid.lower():
        scopes.append(rid[:rid.lower().index("/providers/microsoft.authorization/policyassignments/")])
    return ["/".join(s.split("/")[:5]) for s in scopes
            if isinstance(s, str) and s.lower().startswith(arm.MANAGEMENT_GROUP_PREFIX) and len(s.split("/")) > 4]


def _set_args(rid: str) -> dict:
    parts = rid.rstrip("/").split("/")
    kw = {"policy_set_definition_name": parts[-1]}
    if rid.lower().startswith(arm.MANAGEMENT_GROUP_PREFIX):
        kw["management_group_id"] = parts[4]
    return kw


def _group_args(rid: str) -> dict:
    return {"group_id": rid.rstrip("/").split("/")[4]}


def _mg_nodes(items: list) -> list:
    """A descendants answer as the objects the model reads: groups as they are; a subscription (``type``
    ``/subscriptions``, its id the subscription's own, taken by the subscription object) as the management group
    subscriptions API spells it: ``<parent group>/subscriptions/<id>``, type ``.../managementGroups/subscriptions``."""
    out = []
    for d in items:
        if isinstance(d, dict) and str(d.get("type") or "").lower() == "/subscriptions":
            parent, name = get(d, "properties", "parent", "id"), d.get("name")
            if isinstance(parent, str) and isinstance(name, str):
                d = {**d, "id": f"{parent.rstrip('/')}/subscriptions/{name}", "type": arm.MG_SUBSCRIPTION}
        out.append(d)
    return out


# -- the collectors --------------------------------------------------------------------------------------------------

VAULT_THEN = (
    Then(_vault_principal, (Read("role_definition", "principal"),)),
    Then(_backup_vault, (Read("storage_config"), Read("activity_log", "listed"))),
    # every vault: its protected workloads (WL-003 judges them with or without PEs) and its MUA proxies (RSV-012)
    Then(_own_id, (Read("workload_containers"), Read("guard_proxies"))),
    # a CMK vault's key vault is looked up in every audited subscription (RSV-013: "not found in any readable
    # audited subscription"); Resource Graph lists them itself
    Then(_cmk_vault, (Read("key_vaults", "in_scope"),), source="arm"),
    Then(_vault_pe_refs, (Read("private_endpoint"),), scope="out"),
    Then(_other_vault, (Read("protected_items"),), source="arm"),
)
PE_THEN = (
    Then(lambda pe: _own_id(pe) if _backup_pe(pe) else [], (Read("zone_groups"),)),
    # PE-side connections the vault side may not show
    Then(lambda pe: pe_backup_targets(pe) if _own_id(pe) else [],
         (Read("storage_config"), Read("activity_log", "subscription")), scope="in"),
    Then(_pe_nics, (Read("network_interface"),), scope="out"),
    Then(_pe_vnet, (Read("virtual_network"),), scope="out"),
)
ZONE_THEN = (Then(_own_id, (Read("a_records"), Read("vnet_links"))),)
VNET_THEN = (Then(_no_peerings, (Read("vnet_peerings"),)),)
# a workload's VM: the VMs, NSGs and route tables of its subscription, one list each (never a GET per VM); its NIC
# and VNet are in the subscription's lists too (already read where the subscription is audited)
WORKLOAD_SUB_READS = (Read("virtual_machines", "subscription"), Read("network_security_groups", "subscription"),
                      Read("route_tables", "subscription"))
CONTAINER_THEN = (
    Then(_workload_vm, WORKLOAD_SUB_READS, scope="in", source="arm"),   # Resource Graph lists them itself
    Then(_workload_vm, WORKLOAD_SUB_READS + (Read("network_interfaces", "subscription"),
                                              Read("virtual_networks", "subscription")), scope="out"),
)
PROXY_THEN = (
    Then(lambda p: _ids_at(p, "properties", "resourceGuardResourceId"), (Read("resource_guard"),)),
    # who holds roles on the guard: the subscription's listing shows them where it is audited
    Then(lambda p: _ids_at(p, "properties", "resourceGuardResourceId"), (Read("guard_role_assignments"),),
         scope="out"),
)
ASSIGNMENT_THEN = (
    Then(_set_definition("builtin"), (Read("builtin_policy_set", "by_listing"),)),
    Then(_set_definition("subscription"), (Read("policy_set"),)),
    Then(_set_definition("group"), (Read("group_policy_set", "by_listing"),)),
    # the groups an assignment's coverage rests on: each group (with its path) and what lies under it
    Then(_assignment_groups, (Read("management_group", "by_listing"), Read("group_descendants", "by_listing"))),
)
READ = "/read"
N = "Microsoft.Network/"

COLLECTORS: dict[str, Collector] = {c.name: c for c in (
    Collector("subscriptions", SUBS, "subscriptions.list", arm.SUBSCRIPTION, "tenant", arm.SUBSCRIPTION + READ),
    Collector("subscription", SUBS, "subscriptions.get", arm.SUBSCRIPTION, "subscription", arm.SUBSCRIPTION + READ,
              id_kw="subscription_id", single=True),
    Collector("provider", RES, "providers.get", arm.PROVIDER, "subscription",
              "Microsoft.Resources/subscriptions/providers/read",
              {"resource_provider_namespace": arm.RECOVERY_SERVICES}, single=True),
    Collector("vaults", RSV, "vaults.list_by_subscription_id", arm.VAULT, "subscription", arm.VAULT + READ,
              then=VAULT_THEN),
    Collector("private_endpoints", NET, "private_endpoints.list_by_subscription", arm.PRIVATE_ENDPOINT,
              "subscription", arm.PRIVATE_ENDPOINT + READ, then=PE_THEN),
    Collector("network_interfaces", NET, "network_interfaces.list_all", arm.NIC, "subscription", arm.NIC + READ),
    Collector("virtual_networks", NET, "virtual_networks.list_all", arm.VNET, "subscription", arm.VNET + READ,
              then=VNET_THEN),
    Collector("private_dns_zones", DNS, "private_zones.list", arm.ZONE, "subscription", arm.ZONE + READ,
              then=ZONE_THEN),
    Collector("role_assignments", AUTH, "role_assignments.list_for_subscription", arm.ROLE_ASSIGNMENT,
              "subscription", arm.ROLE_ASSIGNMENT + READ,
              then=(Then(_assignment, (Read("role_definition", "assignment"),)),)),
    Collector("activity_log", MON, "activity_logs.list", arm.EVENT, "subscription", arm.EVENT + READ, _event_kwargs,
              keep=_register_events),
    Collector("storage_config", BKP, "backup_resource_storage_configs_non_crr.get", arm.STORAGE_CONFIG, "vault",
              arm.STORAGE_CONFIG + READ, names=(RG, "vault_name"), single=True),
    Collector("protected_items", BKP, "backup_protected_items.list", arm.PROTECTED_ITEM, "vault",
              "Microsoft.RecoveryServices/vaults/backupProtectedItems/read", names=(RG, "vault_name")),
    # the workload side (#13): a PE vault's AzureWorkload containers (filtered server-side, every page) name VMs
    Collector("workload_containers", BKP, "backup_protection_containers.list", arm.PROTECTION_CONTAINER, "vault",
              "Microsoft.RecoveryServices/vaults/backupProtectionContainers/read", {"filter": WORKLOAD_FILTER},
              names=(RG, "vault_name"), then=CONTAINER_THEN),
    Collector("virtual_machines", COMPUTE, "virtual_machines.list_all", arm.VM, "subscription", arm.VM + READ,
              follow_up=True),
    Collector("network_security_groups", NET, "network_security_groups.list_all", arm.NSG, "subscription",
              arm.NSG + READ, follow_up=True),
    Collector("route_tables", NET, "route_tables.list_all", arm.ROUTE_TABLE, "subscription", arm.ROUTE_TABLE + READ,
              follow_up=True),
    Collector("vnet_peerings", NET, "virtual_network_peerings.list", arm.VNET_PEERING, "vnet", arm.VNET_PEERING + READ,
              names=(RG, "virtual_network_name")),
    # hardening (#14): resource guard proxies of a PE vault, the guard, who holds roles on it, CMK key vaults
    Collector("guard_proxies", BKP, "resource_guard_proxies.get", arm.GUARD_PROXY, "vault", arm.GUARD_PROXY + READ,
              names=(RG, "vault_name"), then=PROXY_THEN),
    Collector("resource_guard", DPP, "resource_guards.get", arm.RESOURCE_GUARD, "id", arm.RESOURCE_GUARD + READ,
              names=(RG, "resource_guards_name"), single=True),
    Collector("guard_role_assignments", AUTH, "role_assignments.list_for_scope", arm.ROLE_ASSIGNMENT, "guard",
              arm.ROLE_ASSIGNMENT + READ, {"filter": "atScope()"}, id_kw="scope",
              then=(Then(_assignment, (Read("role_definition", "assignment"),)),)),
    Collector("key_vaults", KV, "vaults.list_by_subscription", arm.KEY_VAULT, "subscription", arm.KEY_VAULT + READ,
              follow_up=True),
    # guardrails (#15): assignments as ARM lists them at a subscription (inherited ones included), their sets,
    # the management groups they rest on; --management-group: a group's descendants
    Collector("policy_assignments", POLICY, "policy_assignments.list", arm.POLICY_ASSIGNMENT, "subscription",
              arm.POLICY_ASSIGNMENT + READ, then=ASSIGNMENT_THEN),
    Collector("policy_set", POLICY, "policy_set_definitions.get", arm.POLICY_SET, "id", arm.POLICY_SET + READ,
              args=_set_args, single=True),
    Collector("builtin_policy_set", POLICY, "policy_set_definitions.get_built_in", arm.POLICY_SET, "id",
              arm.POLICY_SET + READ, args=_set_args, single=True),
    Collector("group_policy_set", POLICY, "policy_set_definitions.get_at_management_group", arm.POLICY_SET, "id",
              arm.POLICY_SET + READ, args=_set_args, single=True),
    Collector("management_group", MGMT, "management_groups.get", arm.MANAGEMENT_GROUP, "id",
              arm.MANAGEMENT_GROUP + READ, {"expand": "path"}, args=_group_args, single=True),
    Collector("group_descendants", MGMT, "management_groups.get_descendants", arm.MANAGEMENT_GROUP, "mg",
              arm.MANAGEMENT_GROUP + "/descendants" + READ, args=_group_args, keep=_mg_nodes),
    # --management-group: the same call, but a group that is not there is an error (the scope asked for)
    Collector("mg_descendants", MGMT, "management_groups.get_descendants", arm.MANAGEMENT_GROUP, "group",
              arm.MANAGEMENT_GROUP + "/descendants" + READ, args=_group_args, keep=_mg_nodes),
    Collector("zone_groups", NET, "private_dns_zone_groups.list", arm.ZONE_GROUP, "pe", arm.ZONE_GROUP + READ,
              names=(RG, "private_endpoint_name"),
              then=(Then(_zone_group_zones, (Read("private_dns_zone"),), scope="out"),)),
    Collector("a_records", DNS, "record_sets.list_by_type", arm.A_RECORD, "zone", arm.A_RECORD + READ,
              {"record_type": "A"}, names=(RG, "private_zone_name")),
    Collector("vnet_links", DNS, "virtual_network_links.list", arm.VNET_LINK, "zone", arm.VNET_LINK + READ,
              names=(RG, "private_zone_name")),
    # references into subscriptions that were not listed, fetched by id
    Collector("private_endpoint", NET, "private_endpoints.get", arm.PRIVATE_ENDPOINT, "id",
              arm.PRIVATE_ENDPOINT + READ, names=(RG, "private_endpoint_name"), single=True, then=PE_THEN),
    Collector("network_interface", NET, "network_interfaces.get", arm.NIC, "id", arm.NIC + READ,
              names=(RG, "network_interface_name"), single=True),
    Collector("virtual_network", NET, "virtual_networks.get", arm.VNET, "id", arm.VNET + READ,
              names=(RG, "virtual_network_name"), single=True, then=VNET_THEN),
    Collector("private_dns_zone", DNS, "private_zones.get", arm.ZONE, "id", arm.ZONE + READ,
              names=(RG, "private_zone_name"), single=True, then=ZONE_THEN),
    Collector("role_definition", AUTH, "role_definitions.get_by_id", arm.ROLE_DEFINITION, "id",
              arm.ROLE_DEFINITION + READ, id_kw="role_id", single=True, keep=_custom_roles),
)}

COLLECTED_TYPES = sorted({c.type for c in COLLECTORS.values()})

# --source resource-graph: the inventory of many subscriptions in a few paged Resource Graph queries. Each query
# stands in for the ARM collector named by its key (whose follow-up calls it then queues: zone groups, storage
# config, activity log, references out of scope); what Resource Graph does not hold (zone groups, backup storage
# config, providers, the activity log; vaults, whose systemData.createdAt SUB-002 needs and Resource Graph rows
# lack; role assignments, whose management-group inheritance ARM's list shows) is still read through ARM. So are
# the new types Resource Graph does not serve per subscription: AzureWorkload protection containers and resource
# guard proxies (per vault, like the storage config), guards and set definitions (by id), and policy assignments
# (ARM's list at a subscription includes those inherited from management groups; policyresources rows of a
# subscription-scoped query do not). VMs, NSGs, route tables and key vaults come from the resources table.
GRAPH_QUERIES: dict[str, tuple[str, str]] = {
    "private_endpoints": ("resources", arm.PRIVATE_ENDPOINT),
    # NICs with the types that have no follow-up either, in one query (Resource Graph's quota counts queries)
    "network_interfaces": ("resources", (arm.NIC, arm.VM, arm.NSG, arm.ROUTE_TABLE, arm.KEY_VAULT)),
    "virtual_networks": ("resources", arm.VNET),
    "private_dns_zones": ("resources", arm.ZONE),
    "vnet_links": ("resources", arm.VNET_LINK),
    "a_records": ("dnsresources", arm.A_RECORD),
    "protected_items": ("recoveryservicesresources", arm.PROTECTED_ITEM),
}
GRAPH_ARM = ("provider", "vaults", "role_assignments", "policy_assignments")   # subscription-level reads on ARM


def graph_query(table: str, arm_type: str | tuple[str, ...]) -> str:
    """The KQL the tool sends for one type, or several (the emulator recognises exactly these)."""
    if isinstance(arm_type, tuple):
        return f"{table} | where type in~ ({', '.join(repr(t.lower()) for t in arm_type)}) | order by id asc"
    return f"{table} | where type =~ '{arm_type.lower()}' | order by id asc"


def graph_types(arm_type: str | tuple[str, ...]) -> tuple[str, ...]:
    """The types a :data:`GRAPH_QUERIES` entry reads."""
    return arm_type if isinstance(arm_type, tuple) else (arm_type,)


def subscription_reads(source: str) -> list[str]:
    """The collectors read for every subscription at the start (the rest are follow-ups or GETs by id)."""
    return [c.name for c in COLLECTORS.values() if c.level == "subscription" and not c.follow_up and
            c.name not in ("subscription", "activity_log") and (source == "arm" or c.name in GRAPH_ARM)]
