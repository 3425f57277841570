"""Every column of every view ``build`` makes, with its meaning (ids are lower-cased unless said otherwise).

The rules read these columns (``v["column"]``); tests/test_model_columns.py checks that every column a rule reads is
declared for its subject's view and that ``build`` makes every declared column.
"""
from __future__ import annotations

from .policy import COLUMNS as POLICY_COLUMNS

# Columns that stay text (object dtype) even when an estate leaves them all empty, so rules can fillna/.str them.
TEXT_COLUMNS = ("id", "rid", "name", "sub", "rg", "location", "pna", "identity_type", "principal_id", "identity_tenant",
                "crr", "created", "sub_tenant", "crr_flag", "prov_state", "subnet_id", "vnet_id", "vault_id",
                "backup_pe_id", "state", "oldest_vault", "experience", "vault_sub")

# Columns every subject view has (the engine reads them to make and place findings).
_COMMON = {
    "id": "lower-cased ARM id of the row's resource",
    "rid": "the id as ARM spelled it (the id itself for rows known only by reference)",
    "name": "resource name (the last id segment where the input gave none)",
    "sub": "subscription id named by the id",
    "rg": "resource group named by the id",
    "in_input": "the resource itself is in the input (False: known only by reference or unreadable)",
    "malformed": "the resource's object was in the input but could not be read",
    "deps": "ids the row's verdict rests on (zone:<name> where it rests on a zone name being absent)",
    # auditor.model.fixes (attached at the end of build)
    "fixes": "rule id -> the row's concrete remediation commands (the rules' templates read {fixes[RULE-ID]})",
}

VIEW_COLUMNS: dict[str, dict[str, str]] = {
    "vaults": {
        **_COMMON,
        "location": "Azure region of the vault",
        "pna": "publicNetworkAccess as given",
        "identity_type": "identity.type as given (e.g. SystemAssigned, UserAssigned)",
        "principal_id": "object id of the vault's system-assigned identity",
        "identity_tenant": "tenant id of the vault's identity",
        "crr": "cross-region restore setting of the vault's redundancy settings",
        "created": "creation time as given (systemData.createdAt)",
        "n_backup": "backup PE connections of the vault (distinct PEs, AzureBackup or AzureBackup_secondary)",
        "uses_pe": "the vault has at least one backup PE connection",
        "n_any_conn": "PE connections of the vault, any group (distinct PEs)",
        "n_primary": "PE connections not in AzureBackup_secondary (distinct PEs)",
        "n_secondary": "AzureBackup_secondary PE connections (distinct PEs)",
        "secondary_approved": "an AzureBackup_secondary connection is approved (vault side's state first)",
        "experience": "private endpoint experience: v1, v2 or undetermined",
        "system_identity": "identity.type includes SystemAssigned",
        "crr_flag": "crossRegionRestoreFlag of the vault's backup storage config (any true)",
        "sub_tenant": "tenant of the vault's subscription",
        "protected_count": "protected items of the vault (NA when protected items were not read)",
        "created_ts": "creation time as a UTC timestamp (NaT when absent or unreadable)",
        "conn_pes": "ids of every PE connected to the vault, any group",
        "iam_missing": "IAM-001 grants the vault's identity lacks, as texts",
        "iam_group_note": "note that group role assignments were not expanded (when grants are missing)",
    },
    "endpoints": {
        "pol_note": "' (see POL-001 <assignment>)' where a POL-001 NonCompliant assignment configures this endpoint's "
                    "DNS with another region's zone (DNS-001/DNS-004 append it), else ''",
        **_COMMON,
        "subnet_id": "subnet the endpoint is in",
        "vnet_id": "VNet of that subnet",
        "prov_state": "provisioningState as given",
        "vault_ids": "vaults with a backup connection to this PE (sorted tuple)",
        "backup": "a backup PE: some vault has a backup connection to it",
        "backup_pe_id": "for a storage PE: the backup PE it was created for",
        "storage": "a storage PE (<backup PE>_ecs/_prot..._blob/_queue in its group)",
        "related_vaults": "vaults the PE serves: its own backup vaults, else its backup PE's",
        "vault_id": "lowest of related_vaults",
        "vnet_in_input": "the endpoint's VNet is in the input",
        "dns_servers": "custom DNS servers of the endpoint's VNet (tuple; empty: Azure-provided DNS)",
        "custom_dns": "the endpoint's VNet uses custom DNS servers",
        "n_fqdns": "distinct FQDNs of the endpoint (customDnsConfigs and its NICs' private link FQDNs)",
        "fq_missing": "FQDNs with no A record found, as texts",
        "fq_stale": "FQDNs whose A record points elsewhere than the endpoint's IPs, as texts",
        "fq_unlinked": "FQDNs whose zone is not linked to the endpoint's VNet, as texts",
        "storage_fqdn": "the endpoint has a blob/queue FQDN (a v2 backup PE)",
        "fq_zone_ids": "zones the endpoint's FQDN verdicts rest on (linked or holding the record)",
        "fq_absent": "zone:<name> of the zones whose absence (record or link) a verdict rests on",
        "conn_states": "connection states seen, 'vault:<state>' / 'pe:<state>' (sorted tuple)",
        "zg_zone_ids": "zones the endpoint's private DNS zone groups name",
        "has_zone_group": "the endpoint has a private DNS zone group",
        "nic_ids": "NICs of the endpoint",
        "vnet_known_anywhere": "VNets were read at all (VNet type present in the input)",
        "vault_sub": "subscription of vault_id ('' where none)",
        "foreign_zones": "zone group zones in another subscription than the vault's",
        "res_bad": "with --resolve: FQDNs that resolved to no expected IP, as texts",
        "res_ok": "with --resolve: FQDNs that resolved to an expected IP, as texts",
        "res_unreachable": "with --resolve: FQDNs no DNS server answered for, as texts",
        "experience": "experience of vault_id (undetermined where none)",
        "v2": "one of the related vaults is a v2 vault",
    },
    "subnets": {
        **_COMMON,
        "vnet_id": "VNet of the subnet",
        "prefixes": "address prefixes (tuple)",
        "used": "distinct IP configurations in the subnet (the subnet's list and the NICs')",
        "capacity": "usable IPv4 addresses of the prefixes (5 reserved per prefix; None: no IPv4 prefix)",
        "free": "capacity - used",
        "vault_ids": "vaults of the backup PEs in the subnet",
        "pe_names": "names of the backup PEs in the subnet",
        "pe_ids": "ids of the backup PEs in the subnet",
        "vault_id": "lowest of vault_ids",
        "holds_backup_pe": "the subnet holds a backup PE",
    },
    "vnets": {
        **_COMMON,
        "dns_servers": "custom DNS servers (tuple; empty: Azure-provided DNS)",
        "vault_ids": "vaults served by the backup and storage PEs in the VNet",
        "pe_names": "names of the backup and storage PEs in the VNet",
        "pe_ids": "ids of the backup and storage PEs in the VNet",
        "vault_id": "lowest of vault_ids",
        "holds_pe": "the VNet holds a backup or storage PE",
    },
    "providers": {
        **_COMMON,
        "state": "registrationState of Microsoft.RecoveryServices in the subscription",
        "provider_in_input": "the provider's registration was read for the subscription",
        "n_vaults": "vaults in the subscription",
        "n_pe_vaults": "vaults in the subscription that use backup PEs",
        "oldest": "creation time of the subscription's oldest vault (UTC)",
        "oldest_vault": "name of that vault",
        "reregistered": "last successful re-registration of the provider after the cut-off (UTC)",
        "vault_id": "lowest vault id in the subscription",
    },
    "fqdns": {
        "k": "'<pe id>|<fqdn>': one row per endpoint and FQDN",
        "pe_id": "the endpoint",
        "fqdn": "lower-cased FQDN, no trailing dot",
        "expected": "IPs the endpoint gives for the FQDN (tuple)",
        "zone_name": "private DNS zone name the FQDN resolves through",
        "rec_name": "A record name in that zone",
        "vnet_id": "the endpoint's VNet",
        "linked_zone_ids": "zones of that name linked to the VNet",
        "linked": "a zone of that name is linked to the VNet",
        "record_ips": "addresses of the A record found (tuple)",
        "record_zone_ids": "zones holding that record",
        "has_record": "an A record with addresses was found",
        "ip_match": "the record's addresses include an expected IP",
        "stale": "the record exists but matches no expected IP",
        "storage_zone": "a blob or queue zone (a storage endpoint's FQDN)",
        "zone_id": "the zone the FQDN resolves through (linked, else the record's)",
        "zone_rid": "that zone's id as ARM spelled it",
        # and, added by auditor.dns.attach_resolution with --resolve: "resolved", the addresses each name resolved
        # to (None: not asked)
    },
    "assignments": {**_COMMON, **POLICY_COLUMNS},   # auditor.model.policy: one row per policy assignment
}


def _add_declared_elsewhere() -> None:
    """The columns model.hardening adds, and the workloads view, declared beside the functions that make them."""
    from .hardening import ENDPOINT_COLUMNS, SUBNET_COLUMNS, VAULT_COLUMNS
    from .workloads import COLUMNS as WORKLOAD_COLUMNS
    for view, cols in (("vaults", VAULT_COLUMNS), ("endpoints", ENDPOINT_COLUMNS), ("subnets", SUBNET_COLUMNS)):
        VIEW_COLUMNS[view].update(cols)
    VIEW_COLUMNS["workloads"] = dict(WORKLOAD_COLUMNS)


_add_declared_elsewhere()
