"""DNS-007: what the names really resolve to, from where the audit runs (only with --resolve)."""
import pandas as pd

from auditor.rule import Rule, join

RULE = Rule(
    id="DNS-007", title="Private endpoint FQDN does not resolve to its private IP", severity="High",
    subject="endpoints",
    rationale="Seed: 'the name resolution for the FQDNs ... should return a private IP address. This can be achieved "
              "by using: Azure Private DNS zones, Custom DNS, DNS entries in host files, Conditional forwarders to "
              "Azure DNS / Azure Private DNS zones.' Only resolving the names verifies all four.",
    condition="with --resolve: an FQDN of a backup or storage private endpoint, resolved from where the audit runs "
              "(following CNAMEs), gives NXDOMAIN, no answer, or no expected IP; a server that answers nothing at "
              "all makes the row Error",
    remediation="Fix the resolution path the VNet uses (private DNS zone record and link, custom DNS record, "
                "conditional forwarder to 168.63.129.16, or hosts entry) so the name returns the endpoint's private "
                "IP; check with nslookup <fqdn> from a VM in the VNet",
    applies=lambda e, p: (e["backup"] | e["storage"]) & e["in_input"] & (e["n_fqdns"] > 0),
    violates=lambda e, p: e["res_bad"].map(len) > 0,
    message=lambda e, p: join(e["res_bad"]).where(e["res_bad"].map(len) > 0,
                                                  "all " + e["n_fqdns"].astype(str) + " FQDN(s) resolve to an expected IP "
                                                  + "(" + join(e["res_ok"]) + ")"),
    not_applicable=lambda e, p: pd.Series("not a backup or storage private endpoint in the input, or no FQDNs",
                                          index=e.index),
    error=lambda e, p: pd.Series(None, index=e.index, dtype=object).mask(
        (e["res_unreachable"].map(len) > 0) & (e["res_bad"].map(len) == 0),
        "no answer at all from the DNS server: " + join(e["res_unreachable"])),
    only_with="resolve",
    mcsb=("NS-2", "NS-10"),
)
