"""One extractor per ARM type: a routed object in, flat records out (tuples, fields in :data:`COLUMNS` order: the
rows of :mod:`auditor.model`'s frames).

Extractors read ARM's nested shape and ``az``'s flattened one alike (see :func:`auditor.fields.props`) and raise
:class:`~auditor.fields.Malformed` on a field of the wrong type, so that one odd object is reported, not guessed at.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from .. import arm
from .. import ingest as I
from ..fields import Malformed
from .dns import a_record, vnet_link, zone
from .identity import event, provider, role_assignment, role_definition, subscription
from .network import (nic, nsg, private_endpoint, route_table, subnet, vm, vnet, vnet_peering,
                      zone_group)
from .policy import (management_group, mg_subscription, policy_assignment, policy_definition,
                     policy_set)
from .vaults import (guard_proxy, key_vault, protected_item, protection_container, resource_guard,
                     storage_config, vault, vault_pe_connection)


# The columns of each entity's records: the extractors append one tuple per record, its fields in this order.
COLUMNS = {
    "vaults": ("id", "rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id",
               "identity_tenant", "crr", "created"),
    "conns": ("vault_id", "pe_id", "groups", "backup", "secondary", "status", "side", "conn_id", "conn_prov"),
    "pes": ("id", "rid", "name", "sub", "rg", "subnet_id", "vnet_id", "prov_state"),
    "pe_nics": ("pe_id", "nic_id"), "pe_fqdns": ("pe_id", "fqdn", "ip"), "nics": ("nic_id", "pe_id"),
    "nic_ipconfigs": ("ipc_id", "nic_id", "subnet_id", "ip", "ipv4"), "nic_fqdns": ("nic_id", "fqdn", "ip"),
    "vnets": ("id", "rid", "name", "sub", "rg", "dns_servers"),
    "subnets": ("id", "name", "vnet_id", "prefixes", "ipc_ids"),
    "zones": ("id", "rid", "name", "sub", "rg"), "records": ("id", "zone_id", "zone_name", "rel", "ips"),
    "links": ("id", "zone_id", "zone_name", "vnet_id"), "zone_groups": ("id", "pe_id", "zone_ids"),
    "roles": ("id", "principal_id", "principal_type", "role_guid", "scope"),
    "role_defs": ("guid", "perms", "role_type"), "subs": ("sub", "tenant", "name"),
    "providers": ("sub", "namespace", "state"), "events": ("sub", "op", "status", "ts"),
    "storage_configs": ("vault_id", "crr_flag"), "protected_items": ("vault_id", "id"),
    # the vault's hardening settings (RSV-010..014), one record per vault
    "vault_security": ("vault_id", "immutability", "soft_delete", "sd_days", "enhanced_security", "mua", "key_uri",
                       "csr_state"),
    "pe_static": ("pe_id", "n_static"),     # PE-004: static IP configurations (properties.ipConfigurations)
    "guard_proxies": ("id", "vault_id", "guard_id"),
    "guards": ("id", "rid", "name", "sub"),
    "key_vaults": ("id", "rid", "name", "sub", "host", "pna", "default_action", "n_pe_conns", "stub"),
    # the workload side (WL-*)
    "workload_refs": ("vault_id", "vm_id", "source_id"),
    "vms": ("id", "rid", "name", "sub", "rg", "nic_id"),
    "wl_nics": ("nic_id", "nsg_id", "subnet_id", "ip", "asg_ids", "vm_id"),
    "subnet_refs": ("id", "nsg_id", "route_table_id"),
    "peerings": ("id", "vnet_id", "remote_vnet_id", "state"),
    "nsgs": ("id", "rid", "name", "has_defaults"),
    "nsg_rules": ("nsg_id", "name", "priority", "direction", "access", "protocol", "ports", "sources", "src_asgs",
                  "destinations", "default"),
    "route_tables": ("id", "rid", "name"), "routes": ("rt_id", "name", "prefix", "hop_type", "hop_ip"),
    # Azure Policy and management groups (auditor.model.policy): parameters are {name: value}, ids lower-cased
    "assignments": ("id", "rid", "name", "display_name", "scope", "definition_id", "enforcement", "params",
                    "not_scopes", "overrides", "locations"),
    "set_defs": ("id", "name", "display_name", "param_defaults", "members"),
    "policy_defs": ("id", "name", "param_defaults", "effect"),
    "mg_nodes": ("id", "name", "display_name"), "mg_edges": ("child", "parent"),
    "pe_policy": ("pe_id", "location", "dine_vaults"), "conn_prov": ("vault_id", "pe_id", "prov"),
}


class Tables:
    """Record lists per entity (tuples, fields in :data:`COLUMNS` order), filled by the extractors."""

    NAMES = tuple(COLUMNS)

    def __init__(self) -> None:
        for n in self.NAMES:
            setattr(self, n, [])

    def columns(self, name: str) -> dict[str, list]:
        """The records of one entity as column lists (the cheap way into a DataFrame)."""
        cols = COLUMNS[name]
        rows = getattr(self, name)
        if not rows:
            return {c: [] for c in cols}
        return dict(zip(cols, map(list, zip(*rows))))


Extractor = Callable[[Tables, I.RawObject], None]

# Per ARM type: its extractor and the tables it appends to (what is undone when the object turns out malformed).
EXTRACTORS: dict[str, tuple[Extractor, tuple[str, ...]]] = {
    arm.VAULT: (vault, ("vaults", "vault_security", "conns", "conn_prov")),
    arm.VAULT_PE_CONNECTION: (vault_pe_connection, ("conns", "conn_prov")),
    arm.PRIVATE_ENDPOINT: (private_endpoint, ("conns", "pe_nics", "pe_fqdns", "pe_static", "pes", "pe_policy")),
    arm.ZONE_GROUP: (zone_group, ("zone_groups",)),
    arm.NIC: (nic, ("nics", "nic_ipconfigs", "nic_fqdns", "wl_nics")),
    arm.VNET: (vnet, ("vnets", "subnets", "subnet_refs", "peerings")),
    arm.SUBNET: (subnet, ("subnets", "subnet_refs")),
    arm.ZONE: (zone, ("zones",)),
    arm.A_RECORD: (a_record, ("records",)),
    arm.VNET_LINK: (vnet_link, ("links",)),
    arm.ROLE_ASSIGNMENT: (role_assignment, ("roles",)),
    arm.ROLE_DEFINITION: (role_definition, ("role_defs",)),
    arm.SUBSCRIPTION: (subscription, ("subs", "mg_edges")),
    arm.PROVIDER: (provider, ("providers",)),
    arm.EVENT: (event, ("events",)),
    arm.STORAGE_CONFIG: (storage_config, ("storage_configs",)),
    arm.PROTECTED_ITEM: (protected_item, ("protected_items", "workload_refs")),
    arm.PROTECTION_CONTAINER: (protection_container, ("workload_refs",)),
    arm.VM: (vm, ("vms",)),
    arm.NSG: (nsg, ("nsgs", "nsg_rules")),
    arm.ROUTE_TABLE: (route_table, ("route_tables", "routes")),
    arm.VNET_PEERING: (vnet_peering, ("peerings",)),
    arm.GUARD_PROXY: (guard_proxy, ("guard_proxies",)),
    arm.RESOURCE_GUARD: (resource_guard, ("guards",)),
    arm.KEY_VAULT: (key_vault, ("key_vaults",)),
    arm.POLICY_ASSIGNMENT: (policy_assignment, ("assignments",)),
    arm.POLICY_SET: (policy_set, ("set_defs",)),
    arm.POLICY_DEFINITION: (policy_definition, ("policy_defs",)),
    arm.MANAGEMENT_GROUP: (management_group, ("mg_nodes", "mg_edges")),
    arm.MG_SUBSCRIPTION: (mg_subscription, ("mg_edges",)),
}


def extract(ing: I.Ingested) -> tuple[Tables, dict[str, set[str]]]:
    """Run every extractor; a malformed object becomes a warning and an error record, never a crash.

    Returns the tables and, per type, the ids of the objects that were unreadable."""
    t = Tables()
    bad: dict[str, set[str]] = defaultdict(set)
    plan = {kind: (fn, [getattr(t, n) for n in writes]) for kind, (fn, writes) in EXTRACTORS.items()}
    for raw in ing.objects.values():
        step = plan.get(raw.type)
        if step is None:
            continue
        fn, lists = step
        marks = [*map(len, lists)]
        try:
            fn(t, raw)
        except (Malformed, AttributeError, TypeError, ValueError) as exc:
            for x, n in zip(lists, marks):  # a half-read object leaves nothing behind
                del x[n:]
            label = f"{raw.obj.get('id')!r} (position {raw.source.position})"
            msg = f"{raw.source.path}: object {label} is unreadable: {exc}"
            ing.warnings.append(msg)
            ing.errors.append(I.unreadable(raw.id, raw.type, msg))
            bad[raw.type].add(raw.id)
    return t, bad
