"""The vaults view: every vault in the input (and the malformed ones), its private endpoint connections by kind,
experience, identity, storage and protection facts, and the ids its verdicts rest on."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import arm
from .frames import Frames
from .helpers import grouped, identify, isna, objects


def vault_view(frames: Frames, conns: pd.DataFrame, backup_conns: pd.DataFrame, bad: dict[str, set[str]],
               v1: set, v2: set, present: set[str]) -> pd.DataFrame:
    """The vault rows with their connection counts, experience, identity and storage/protection facts."""
    vaults = frames["vaults"].assign(malformed=False, in_input=True)
    stubs = sorted(bad.get(arm.VAULT, set()) - set(vaults["id"]))
    vaults = pd.concat([vaults, pd.DataFrame({"id": stubs, "malformed": True, "in_input": False})],
                       ignore_index=True)
    vaults = identify(vaults)
    _count_connections(vaults, conns)
    vaults["secondary_approved"] = vaults["id"].isin(_approved_secondary(backup_conns))
    vaults["experience"] = ["v2" if i in v2 else "v1" if i in v1 else "undetermined" for i in vaults["id"].tolist()]
    identity = vaults["identity_type"].fillna("").str.lower().str.replace(" ", "")
    vaults["system_identity"] = identity.str.split(",").map(lambda parts: "systemassigned" in parts)
    configs = frames["storage_configs"].dropna(subset=["crr_flag"])
    vaults["crr_flag"] = vaults["id"].map(configs.groupby("vault_id")["crr_flag"].any())
    subs = frames["subs"]
    vaults["sub_tenant"] = vaults["sub"].map(subs.dropna(subset=["tenant"]).set_index("sub")["tenant"])
    if arm.PROTECTED_ITEM in present:
        per_vault = frames["protected_items"].groupby("vault_id").size()
        vaults["protected_count"] = vaults["id"].map(per_vault).fillna(0).astype(int)
    else:
        vaults["protected_count"] = pd.NA
    vaults["created_ts"] = pd.to_datetime(vaults["created"], utc=True, errors="coerce", format="ISO8601")
    return vaults


def _count_connections(vaults: pd.DataFrame, conns: pd.DataFrame) -> None:
    """Distinct endpoints per vault: backup ones, any, primary (not AzureBackup_secondary) and secondary ones."""
    pe_sets: tuple[dict, dict, dict, dict] = ({}, {}, {}, {})
    backup_pes, any_pes, primary_pes, secondary_pes = pe_sets
    for v, pe, backup, secondary in zip(*(conns[c].tolist() for c in ("vault_id", "pe_id", "backup", "secondary"))):
        any_pes.setdefault(v, set()).add(pe)
        (secondary_pes if secondary else primary_pes).setdefault(v, set()).add(pe)
        if backup:
            backup_pes.setdefault(v, set()).add(pe)
    vault_ids = vaults["id"].tolist()
    for c, pes_of in zip(("n_backup", "n_any_conn", "n_primary", "n_secondary"), pe_sets):
        vaults[c] = np.array([len(pes_of.get(i, ())) for i in vault_ids], dtype=np.int64)
    vaults.insert(vaults.columns.get_loc("n_backup") + 1, "uses_pe", vaults["n_backup"] > 0)


def _approved_secondary(backup_conns: pd.DataFrame) -> set:
    """Vaults with an approved AzureBackup_secondary connection: the vault side's word where it has one, else the
    PE side's."""
    secondary = backup_conns[backup_conns["secondary"].astype(bool)]
    state = secondary.dropna(subset=["status"]).sort_values("side", key=lambda s: s.map({"vault": 0, "pe": 1}))
    state = state.drop_duplicates(["vault_id", "pe_id"])
    return set(state.loc[state["status"] == "approved", "vault_id"])


def _storage_zone_deps(endpoints: pd.DataFrame, fqdns: pd.DataFrame) -> dict[str, list]:
    """Zones a vault's verdicts rest on through its storage endpoints: IAM-001 (c) reads the blob/queue zones linked
    to their VNets (and, where none is linked, rests on no zone of that name being linked anywhere)."""
    storage_ids = set(endpoints.loc[endpoints["storage"], "id"])
    deps: dict[str, list] = {}
    for pid, storage, linked, zone_name in zip(*(fqdns[c].tolist() for c in (
            "pe_id", "storage_zone", "linked_zone_ids", "zone_name"))):
        if storage and pid in storage_ids:
            deps.setdefault(pid, []).extend(linked if linked else ("zone:" + zone_name,))
    return deps


def add_vault_deps(vaults: pd.DataFrame, conns: pd.DataFrame, endpoints: pd.DataFrame, fqdns: pd.DataFrame) -> None:
    """conn_pes (every endpoint connected to the vault) and deps: the vault, those endpoints, and for the endpoints
    that serve it their NICs, VNets, subnets and storage zones."""
    vault_ids = vaults["id"].tolist()
    conn_pes = grouped(conns["vault_id"].tolist(), conns["pe_id"].tolist())
    vaults["conn_pes"] = objects([conn_pes.get(i, ()) for i in vault_ids], vaults.index)
    storage_deps = _storage_zone_deps(endpoints, fqdns)
    acc: dict[str, set] = {}
    for pid, vs, nics, vnet, subnet in zip(*(endpoints[c].tolist() for c in (
            "id", "related_vaults", "nic_ids", "vnet_id", "subnet_id"))):
        if not vs:
            continue
        ds = {pid, *nics, *(x for x in (vnet, subnet) if not isna(x)), *storage_deps.get(pid, ())}
        for v in vs:
            if not isna(v):
                acc.setdefault(v, set()).update(ds)
    deps = {v: tuple(sorted(d)) for v, d in acc.items()}
    vaults["deps"] = [(i,) + c + deps.get(i, ()) for i, c in zip(vault_ids, vaults["conn_pes"].tolist())]
