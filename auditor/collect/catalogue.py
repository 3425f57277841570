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
GRAPH_ACTION = "Microsoft.ResourceGraph/resources/read"   # the POST of --source resource-graph queries
RG = "resource_group_name"


@dataclass(frozen=True)
class Read:
    """One follow-up read of an id found in an object. ``subject`` says what the read is about: ``id`` (the id
    found), ``subscription`` (the id's subscription), ``listed`` (the subject of the call that returned the object),
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
    """Whether the vault has a backup PE connection (vault side), and the PE ids its connections name."""
    backup, refs = False, []
    for c in as_list(get(vault, "properties", "privateEndpointConnections")):
        groups = _groups(c)
        if groups and not groups & arm.BACKUP_GROUPS:
            continue  # e.g. AzureSiteRecovery; no groupIds (older API versions): assume backup
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


# -- the collectors --------------------------------------------------------------------------------------------------

VAULT_THEN = (
    Then(_vault_principal, (Read("role_definition", "principal"),)),
    Then(_backup_vault, (Read("storage_config"), Read("activity_log", "listed"))),
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
    Collector("virtual_networks", NET, "virtual_networks.list_all", arm.VNET, "subscription", arm.VNET + READ),
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
              "Microsoft.RecoveryServices/vaults/backupProtectedItems/read", names=(RG, "vault_name"),
              first_page=True),
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
              names=(RG, "virtual_network_name"), single=True),
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
# lack; role assignments, whose management-group inheritance ARM's list shows) is still read through ARM.
GRAPH_QUERIES: dict[str, tuple[str, str]] = {
    "private_endpoints": ("resources", arm.PRIVATE_ENDPOINT),
    "network_interfaces": ("resources", arm.NIC),
    "virtual_networks": ("resources", arm.VNET),
    "private_dns_zones": ("resources", arm.ZONE),
    "vnet_links": ("resources", arm.VNET_LINK),
    "a_records": ("dnsresources", arm.A_RECORD),
    "protected_items": ("recoveryservicesresources", arm.PROTECTED_ITEM),
}
GRAPH_ARM = ("provider", "vaults", "role_assignments")   # subscription-level reads that stay on ARM


def graph_query(table: str, arm_type: str) -> str:
    """The KQL the tool sends for one type (the emulator recognises exactly these)."""
    return f"{table} | where type =~ '{arm_type.lower()}' | order by id asc"


def subscription_reads(source: str) -> list[str]:
    """The collectors read for every subscription at the start (the rest are follow-ups or GETs by id)."""
    return [c.name for c in COLLECTORS.values() if c.level == "subscription" and
            c.name not in ("subscription", "activity_log") and (source == "arm" or c.name in GRAPH_ARM)]
