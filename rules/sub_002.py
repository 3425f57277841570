"""SUB-002: providers registered before 1 May 2020 must be re-registered for private endpoints."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule

CUTOFF = pd.Timestamp(arm.REREGISTER_CUTOFF)


def _when(ts: pd.Series) -> pd.Series:
    return ts.map(lambda t: t.strftime("%Y-%m-%d") if isinstance(t, pd.Timestamp) and not pd.isna(t) else "unknown")


RULE = Rule(
    id="SUB-002", title="Recovery Services provider not re-registered since May 2020", severity="Medium",
    subject="providers",
    rationale="Seed: 'You need to re-register the Recovery Services resource provider with the subscription if you "
              "registered it before May 1 2020.'",
    condition="a subscription holds a vault that uses private endpoints, its oldest vault was created before "
              "2020-05-01, and no succeeded Microsoft.RecoveryServices/register/action event at or after 2020-05-01 "
              "is known; Error when no vault of the subscription has a known creation time",
    remediation="Re-register the provider (portal: subscription > Resource providers > Microsoft.RecoveryServices > "
                "Re-register): {fixes[SUB-002]}; the activity log keeps 90 days, so once re-registration is "
                "confirmed, record an exemption",
    applies=lambda r, p: r["n_pe_vaults"] > 0,
    violates=lambda r, p: (r["oldest"] < CUTOFF).fillna(False).astype(bool) & r["reregistered"].isna(),
    message=lambda r, p: "oldest vault " + r["oldest_vault"].fillna("?") + " created " + _when(r["oldest"])
                         + "; re-registration since 2020-05-01 seen: " + _when(r["reregistered"]).replace(
                             "unknown", "none in the activity log (90-day window)"),
    not_applicable="no vault of the subscription uses private endpoints",
    error=lambda r, p: pd.Series(None, index=r.index, dtype=object).mask(
        r["oldest"].isna(), "no vault of subscription " + r["sub"] + " has a known creation time "
                            "(systemData.createdAt or createdTime)"),
    reads=(arm.VAULT, arm.EVENT),
    mcsb=("NS-2",),
)
