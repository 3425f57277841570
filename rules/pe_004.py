"""PE-004: static IPs on a backup private endpoint are unsupported in the enhanced (v2) experience."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule


def _na(e, p):
    out = pd.Series("not a backup private endpoint of a Recovery Services vault", index=e.index, dtype=object)
    exp = e["experience"].astype(object).fillna("undetermined")
    return out.mask(e["backup"] & exp.eq("v1"), "the vault is judged in the v1 experience").mask(
        e["backup"] & exp.eq("undetermined") & ~e["v2"],
        "the vault's experience is undetermined (judged as v1): static IPs are supported there")


RULE = Rule(
    id="PE-004", title="Static IP configuration on a backup private endpoint of a v2 vault", severity="Medium",
    subject="endpoints",
    rationale="V2: 'Private endpoints with static IPs are unsupported in the enhanced experience due to dynamic IP "
              "expansion. Although creation succeeds, registration might fail for vaults that have existing "
              "protected items.'",
    condition="a backup private endpoint of a v2 vault has a non-empty properties.ipConfigurations (the static-IP "
              "form); absent or [] is dynamic",
    remediation="Re-create the private endpoint without static IP configurations (dynamic allocation): az network "
                "private-endpoint show --subscription {subscription_id} --ids {resource_id} --query ipConfigurations",
    applies=lambda e, p: e["backup"] & e["v2"],
    violates=lambda e, p: e["n_static"] > 0,
    message=lambda e, p: e["n_static"].astype(str) + " static IP configuration(s); vault experience v2",
    not_applicable=_na,
    reads=(arm.PRIVATE_ENDPOINT, arm.VAULT),
    mcsb=("NS-2",),
    references=("https://learn.microsoft.com/azure/backup/backup-azure-private-endpoints-concept",),
    experience=True,
)
