"""The providers view: the Microsoft.RecoveryServices provider of every subscription known, with its registration
state, its vaults and the last re-registration after the cut-off."""
from __future__ import annotations

import pandas as pd

from .. import arm
from .frames import Frames

REREGISTER_CUTOFF = pd.Timestamp(arm.REREGISTER_CUTOFF)


def _reregistered(events: pd.DataFrame) -> dict:
    """Subscription -> its last successful register action after the cut-off."""
    ev = events[(events["op"] == arm.REGISTER_ACTION) & (events["status"] == "succeeded")]
    ts = pd.to_datetime(ev["ts"], utc=True, errors="coerce", format="ISO8601")
    ev = ev.assign(ts=ts)[ts >= REREGISTER_CUTOFF]
    return ev.groupby("sub")["ts"].max().to_dict()


def provider_view(frames: Frames, vaults: pd.DataFrame) -> pd.DataFrame:
    """One row per subscription known: one whose vaults could not be read still gets its row (Error, not silence)."""
    prov = frames["providers"]
    rs = prov[prov["namespace"] == arm.RECOVERY_SERVICES.lower()].drop_duplicates("sub")
    vault_subs = vaults.dropna(subset=["sub"])
    subs = sorted((set(vault_subs["sub"]) | set(rs["sub"]) | set(frames["subs"]["sub"])) - {""})
    pv = pd.DataFrame({"sub": pd.Series(subs, dtype=object)})
    pv["id"] = "/subscriptions/" + pv["sub"] + "/providers/" + arm.RECOVERY_SERVICES.lower()
    pv["rid"] = "/subscriptions/" + pv["sub"] + "/providers/" + arm.RECOVERY_SERVICES
    pv["name"] = arm.RECOVERY_SERVICES
    pv["rg"] = ""
    pv["state"] = pv["sub"].map(rs.set_index("sub")["state"]).astype(object)
    pv["provider_in_input"] = pv["sub"].isin(set(rs["sub"]))
    by_sub = vaults.groupby("sub")
    pv["n_vaults"] = pv["sub"].map(by_sub.size()).fillna(0).astype(int)
    pv["n_pe_vaults"] = pv["sub"].map(by_sub["uses_pe"].sum()).fillna(0).astype(int)
    pv["oldest"] = pd.to_datetime(pv["sub"].map(by_sub["created_ts"].min().to_dict()), utc=True)
    pv["oldest_vault"] = pv["sub"].map(vaults.dropna(subset=["created_ts"]).sort_values("created_ts")
                                       .drop_duplicates("sub").set_index("sub")["name"]).astype(object)
    pv["reregistered"] = pd.to_datetime(pv["sub"].map(_reregistered(frames["events"])), utc=True)
    pv["vault_id"] = pv["sub"].map(vaults.sort_values("id").drop_duplicates("sub").set_index("sub")["id"])
    pv["deps"] = [(i,) for i in pv["id"]]
    pv["malformed"] = False
    pv["in_input"] = True
    return pv
