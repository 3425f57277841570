"""What the DNS rules share: which endpoints they judge from private DNS zones."""
import pandas as pd

from auditor.rule import join


def judged(e: pd.DataFrame) -> pd.Series:
    """In the input, not behind custom DNS, VNet known, with FQDNs to check."""
    return ~e["custom_dns"] & (e["vnet_in_input"] | ~e["vnet_known_anywhere"]) & (e["n_fqdns"] > 0)


def missing_records(e: pd.DataFrame, p: dict) -> pd.Series:
    """DNS-001/002 evidence: the FQDNs without an A record (with their expected IPs and zone)."""
    return ("no A record for " + join(e["fq_missing"])).where(
        e["fq_missing"].map(len) > 0, "A records present for all " + e["n_fqdns"].astype(str) + " FQDN(s)")


def see_pol001(e: pd.DataFrame, failing: pd.Series) -> pd.Series:
    """DNS-001/004: ' (see POL-001 <assignment>)' where a POL-001 assignment configures the endpoint's DNS with
    another region's zone (the model's ``pol_note``), on failing rows only."""
    note = e["pol_note"] if "pol_note" in e else pd.Series("", index=e.index, dtype=object)
    return note.where(failing, "").fillna("")


def reason(e: pd.DataFrame, kinds: str) -> pd.Series:
    """Why a DNS rule does not apply. Custom DNS, a VNet not in the input or no FQDNs explain it only for the
    endpoints of a vault (backup or storage); any other endpoint (a Cosmos DB or Private Link service PE) is simply
    not one of them, whatever its VNet."""
    out = pd.Series(f"not a {kinds} private endpoint of a Recovery Services vault", index=e.index)
    ours = e["backup"].astype(bool) | e["storage"].astype(bool)
    out = out.mask(ours & (e["n_fqdns"] == 0),
                   "no FQDNs known for the endpoint (no customDnsConfigs, NIC not in the input)")
    out = out.mask(ours & ~e["vnet_in_input"] & e["vnet_known_anywhere"],
                   "the endpoint's virtual network is not in the input")
    out = out.mask(ours & e["custom_dns"], "the endpoint's VNet uses custom DNS servers (see DNS-006)")
    return out
