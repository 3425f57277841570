"""PE-001: traffic flows only over approved private endpoint connections."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, join

RULE = Rule(
    id="PE-001", title="Backup private endpoint connection not approved", severity="High", subject="endpoints",
    rationale="Seed: private endpoints bring the service into the VNet ('Private endpoints use one or more private IP "
              "addresses from your Azure Virtual Network'); a connection that is not Approved carries no traffic.",
    condition="a backup private endpoint connection is not Approved, on the vault side "
              "(privateLinkServiceConnectionState.status of the vault's connection) or on the PE side",
    remediation="Approve the vault's side of the connection (portal: vault > Networking > Private access > Approve): "
                "{fixes[PE-001]}",
    applies=lambda e, p: e["backup"],
    violates=lambda e, p: e["conn_states"].map(lambda s: any(not x.endswith(":approved") for x in s)),
    message=lambda e, p: "connection states: " + join(e["conn_states"], ", ").str.replace("vault:", "vault side ")
                         .str.replace("pe:", "endpoint side "),
    not_applicable="not a backup private endpoint of a Recovery Services vault",
    error=lambda e, p: pd.Series(None, index=e.index, dtype=object).mask(
        e["backup"] & (e["conn_states"].map(len) == 0), "no connection state is known on either side"),
    reads=(arm.VAULT, arm.PRIVATE_ENDPOINT, arm.VAULT_PE_CONNECTION),
    judges_references=True,
    policies={arm.POLICY_PRIVATE_LINK: "goes beyond"},
    mcsb=("NS-2",),
)
