"""PE-002: a failed endpoint carries nothing."""
from auditor import arm
from auditor.rule import Rule, text

RULE = Rule(
    id="PE-002", title="Backup or storage private endpoint failed to provision", severity="High",
    subject="endpoints",
    rationale="Protects the seed's requirement that 'all traffic for the Azure service is redirected to the network "
              "interface' of the private endpoint: a Failed endpoint has no working interface.",
    condition="a backup private endpoint or a storage private endpoint (_ecs/_prot …_blob/_queue) has "
              "provisioningState Failed",
    remediation="Inspect (az network private-endpoint show --subscription {subscription_id} --ids {resource_id}), then "
                "re-create the endpoint (storage endpoints are re-created by the vault): {fixes[PE-002]}",
    applies=lambda e, p: e["backup"] | e["storage"],
    violates=lambda e, p: e["prov_state"].fillna("").str.casefold().eq("failed"),
    message=lambda e, p: e["backup"].map({True: "backup", False: "storage"}) + " private endpoint, provisioningState="
                         + text(e["prov_state"]),
    not_applicable="not a backup or storage private endpoint of a Recovery Services vault",
    reads=(arm.PRIVATE_ENDPOINT,),
    mcsb=("NS-2",),
)
