"""SUB-001: a subscription with vaults needs Microsoft.RecoveryServices registered."""
from auditor import arm
from auditor.rule import Rule, text

RULE = Rule(
    id="SUB-001", title="Microsoft.RecoveryServices not registered in a subscription with vaults", severity="High",
    subject="providers",
    rationale="Protects the seed's requirement to 're-register the Recovery Services resource provider with the "
              "subscription': private endpoints for Backup need the provider registered.",
    condition="a subscription that holds a vault has Microsoft.RecoveryServices with a registrationState other than "
              "Registered",
    remediation="Register the provider: {fixes[SUB-001]}",
    applies=lambda r, p: (r["n_vaults"] > 0) & r["provider_in_input"],
    violates=lambda r, p: r["state"].fillna("").str.casefold().ne("registered"),
    message=lambda r, p: "registrationState=" + text(r["state"]) + " with " + r["n_vaults"].astype(str)
                         + " vault(s) in subscription " + r["sub"],
    not_applicable=lambda r, p: (r["n_vaults"] > 0).map({True: "the provider is not in the input",
                                                         False: "the subscription holds no vault"}),
    candidates=lambda r, p: r["n_vaults"] > 0,
    reads=(arm.PROVIDER, arm.VAULT),
    needs=((arm.PROVIDER,),),
    mcsb=("NS-2",),
)
