"""What the workload rules (WL-*) share: the NotApplicable reasons and a few texts."""
import pandas as pd

from auditor.rule import join

ENTRA_DOC = "https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept"
RESOLVE_NOTE = ("resolution depends on the custom DNS servers; use --resolve from the VM's network: run "
                "`auditor audit --resolve` on a VM in that VNet (README, 'Resolving from the workload's network')")


def short(ids: pd.Series) -> pd.Series:
    """Tuples of ids -> their last segments, comma-separated."""
    return ids.map(lambda v: ", ".join(i.rsplit("/", 1)[-1] for i in v) if isinstance(v, tuple) else "")


def vnet(w: pd.DataFrame) -> pd.Series:
    return w["vnet_id"].fillna("?").astype(str)


def reason(w: pd.DataFrame, first: pd.Series | None = None) -> pd.Series:
    """The vault-level reason a PE rule does not apply (the engine says "not in the input" itself)."""
    out = pd.Series("the vault uses no private endpoints", index=w.index, dtype=object)
    if first is not None:
        out = out.mask(w["vault_uses_pe"], first)
    return out


def reach(w: pd.DataFrame) -> pd.Series:
    """The workload VNet is an endpoint VNet or peered (Connected, either side) with one."""
    return w["in_endpoint_vnet"] | (w["peered_with"].map(len) > 0)


def nsgs_missing(w: pd.DataFrame, p: dict) -> pd.Series:
    return ("network security group(s) referenced but not in the input: " + join(w["nsg_missing"], ", ")).where(
        w["nsg_missing"].map(len) > 0, None)
