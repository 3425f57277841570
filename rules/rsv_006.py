"""RSV-006: a vault moved to another tenant keeps an identity (and endpoints) of the old one."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, text

RULE = Rule(
    id="RSV-006", title="Vault identity belongs to another tenant than its subscription", severity="Critical",
    subject="vaults",
    rationale="Seed: 'When you move a Recovery Services vault already using private endpoints to a new tenant, "
              "you'll need to update the Recovery Services vault to recreate and reconfigure the vault's managed "
              "identity and create new private endpoints as needed ... If this isn't done, the backup and restore "
              "operations will start failing.'",
    condition="the vault has an identity whose tenantId differs from the tenant of the vault's subscription "
              "(homeTenantId, else tenantId); Error if that tenant is unknown",
    remediation="Re-create the identity in the new tenant, then the private endpoints and role assignments: "
                "{fixes[RSV-006]}",
    applies=lambda v, p: v["identity_tenant"].notna(),
    violates=lambda v, p: v["identity_tenant"].ne(v["sub_tenant"]) & v["sub_tenant"].notna(),
    message=lambda v, p: "identity tenantId " + text(v["identity_tenant"]) + ", subscription " + v["sub"]
                         + " tenant " + text(v["sub_tenant"], "(unknown)"),
    not_applicable="the vault has no identity with a tenantId",
    error=lambda v, p: pd.Series(None, index=v.index, dtype=object).mask(
        v["sub_tenant"].isna(), "the tenant of subscription " + v["sub"] + " is unknown (subscription not in the input)"),
    reads=(arm.VAULT, arm.SUBSCRIPTION),
    needs=((arm.SUBSCRIPTION,),),
    mcsb=("IM-3",),
)
