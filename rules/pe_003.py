"""PE-003: the backup PE's subnet must have room for the IPs Azure Backup adds later."""
import pandas as pd

from auditor import arm
from auditor.rule import Rule, join


def threshold(s: pd.DataFrame, p: dict) -> pd.Series:
    """Free IPs the subnet needs: the largest of its vaults' experience thresholds (undetermined = v1); a scalar
    `min_free_ips` overrides both."""
    m = p["min_free_ips"]
    if not isinstance(m, dict):
        return pd.Series(int(m), index=s.index, dtype=int)
    v1, v2 = int(m.get("v1", 11)), int(m.get("v2", 10))
    return s["experiences"].map(lambda xs: max([v2 if x == "v2" else v1 for x in xs] or [v1])).astype(int)


def _note(s: pd.DataFrame, p: dict) -> pd.Series:
    small = s["largest_prefix"].map(lambda n: n is not None and n < p["min_prefix_addresses"])
    return pd.Series("", index=s.index, dtype=object).mask(
        small, "; note: the largest prefix has " + s["largest_prefix"].astype(str) + " addresses, fewer than the /25 ("
        + str(p["min_prefix_addresses"]) + ") both experiences now recommend")


RULE = Rule(
    id="PE-003", title="Subnet of a backup private endpoint is short of free IPs", severity="Medium",
    subject="subnets",
    rationale="Seed/V1: 'A private endpoint connection for Azure Backup uses a total of 11 private IPs in your subnet, "
              "including the IPs that Azure Backup uses for storage.'; V2: 'A private endpoint for a vault uses 10 "
              "private IPs, and the count might increase over time.'; both: 'We recommend that you have enough "
              "private IPs (/25) available'.",
    condition="a subnet holding a backup private endpoint has fewer free IPs than its vaults' experience needs "
              "(`min_free_ips.v1` 11, `min_free_ips.v2` 10, undetermined = v1, the largest applying; a scalar "
              "`min_free_ips` overrides both): addresses of its IPv4 prefixes − 5 reserved per prefix − distinct IP "
              "configurations in the subnet. A largest prefix below `min_prefix_addresses` (128, /25) is noted in the "
              "message only",
    remediation="Free addresses in the subnet or move the endpoint to a larger one (/25 recommended): az network vnet "
                "subnet show --subscription {subscription_id} --ids {resource_id} --query ipConfigurations",
    applies=lambda s, p: s["holds_backup_pe"] & s["capacity"].notna(),
    violates=lambda s, p: s["free"] < threshold(s, p),
    message=lambda s, p: s["free"].astype("Int64").astype(str) + " free IP(s) (" + join(s["prefixes"], ", ")
                         + ": " + s["capacity"].astype("Int64").astype(str) + " usable, " + s["used"].astype(str)
                         + " in use); needs " + threshold(s, p).astype(str) + " (experience "
                         + join(s["experiences"], "/") + "); backup endpoint(s) "
                         + join(s["pe_names"], ", ") + " of vault(s) " + join(s["vault_ids"], ", ") + _note(s, p),
    not_applicable=lambda s, p: s["holds_backup_pe"].map({True: "no IPv4 prefix", False: "holds no backup private endpoint"}),
    reads=(arm.VNET, arm.SUBNET, arm.NIC, arm.PRIVATE_ENDPOINT),
    needs=((arm.VNET, arm.SUBNET),),
    params={"min_free_ips": {"v1": 11, "v2": 10}, "min_prefix_addresses": 128},
    mcsb=("NS-2",),
    experience=True,
)
