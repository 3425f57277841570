"""Test data for the report writers: a findings frame full of hostile ARM strings, its meta and chains,
and a 100k-evaluation frame for size/time figures."""
from __future__ import annotations

import pandas as pd

SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": '"><img src=x onerror=alert(1)>',
    "breakout": "</script><script>alert(2)</script>",
    "formula": "=cmd|' /C calc'!A0",
    "ctrl": "nul\x00bell\x07esc\x1bdel\x7fnel\x85end",
    "rtl": "invoice\u202egpj.exe",
    "jinja": "{{ 7*7 }}{% raw %}${x}",
    "comment": "<!-- --!> <![CDATA[ ]]>",
    "surrogate": "lone\ud800half",
    "long": "L" * 10_000,
}

RULES = [
    {"id": "RSV-006", "title": "Vault identity tenant differs from the subscription tenant", "severity": "Critical",
     "rationale": "Moving a vault to a new tenant breaks backup.", "remediation": "Re-create the identity."},
    {"id": "RSV-001", "title": "Public network access is not disabled", "severity": "High",
     "rationale": "We recommend setting the public network access to Deny.", "remediation": "Disable public access: az backup vault update --resource-group {resource_group} "
                    "--name {resource_name} --public-network-access Disable"},
    {"id": "DNS-001", "title": "Backup PE FQDN has no A record", "severity": "High",
     "rationale": "Name resolution must return a private IP.", "remediation": "Add the A record <b>now</b>."},
    {"id": "PE-001", "title": "PE connection not approved", "severity": "High",
     "rationale": "Traffic flows over approved connections only.",
     "remediation": "Approve the connection: az network private-endpoint-connection approve --id {resource_id}"},
    {"id": "RSV-002", "title": "Vault has no private endpoint", "severity": "Medium",
     "rationale": "Azure Policy built-in.", "remediation": "Create a private endpoint."},
    {"id": "DNS-006", "title": "VNet uses custom DNS", "severity": "Informational",
     "rationale": "Custom DNS must forward privatelink zones.", "remediation": "Forward to 168.63.129.16."},
]
RULE_BY_ID = {r["id"]: r for r in RULES}


def vault_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}"


def pe_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateEndpoints/{name}"


def _row(rule: str, state: str, rid: str, vid: str, message: str, **extra) -> dict:
    r = RULE_BY_ID[rule]
    sub = rid.split("/")[2]
    rg = rid.split("/")[4] if "/resourceGroups/" in rid else ""
    row = {
        "finding_id": f"{abs(hash((rule, rid.lower()))):016x}",
        "rule_id": rule, "title": r["title"], "severity": r["severity"], "compliance_state": state,
        "subscription_id": sub, "resource_group": rg, "resource_type": rid.split("/providers/")[-1].rsplit("/", 1)[0],
        "resource_id": rid, "resource_name": rid.rsplit("/", 1)[-1], "vault_id": vid, "message": message,
        "remediation": r["remediation"].format(resource_group=rg, resource_name=rid.rsplit("/", 1)[-1],
                                               resource_id=rid, subscription_id=sub),
        "exemption_category": None, "exemption_justification": None,
    }
    row.update(extra)
    return row


def make_findings(with_change: bool = False) -> pd.DataFrame:
    h = HOSTILE
    v_ok = vault_id(SUB_A, "rg-alpha", "vault-ok")
    v_script = vault_id(SUB_A, "rg-alpha", h["script"])
    v_img = vault_id(SUB_A, "rg-beta", h["img"])
    v_break = vault_id(SUB_B, "rg-gamma", h["breakout"])
    v_formula = vault_id(SUB_B, "rg-gamma", h["formula"])
    v_ctrl = vault_id(SUB_B, "rg-delta", h["ctrl"])
    v_rtl = vault_id(SUB_B, "rg-delta", h["rtl"])
    v_long = vault_id(SUB_A, "rg-long", h["long"])
    pe_jinja = pe_id(SUB_A, "rg-alpha", h["jinja"])
    pe_comment = pe_id(SUB_A, "rg-beta", h["comment"])
    pe_sur = pe_id(SUB_B, "rg-gamma", h["surrogate"])
    rows = [
        _row("RSV-006", "NonCompliant", v_script, v_script, f"identity tenant t1 differs from {h['script']}"),
        _row("RSV-006", "Compliant", v_ok, v_ok, "tenants match"),
        _row("RSV-006", "Error", v_rtl, v_rtl, f"subscription tenant unknown {h['rtl']}"),
        _row("RSV-001", "NonCompliant", v_img, v_img, f"publicNetworkAccess Enabled on {h['img']}"),
        _row("RSV-001", "NonCompliant", v_break, v_break, f"publicNetworkAccess absent {h['breakout']}"),
        _row("RSV-001", "NonCompliant", v_long, v_long, "publicNetworkAccess Enabled on a long name"),
        _row("RSV-001", "Exempt", v_formula, v_formula, f"publicNetworkAccess Enabled {h['formula']}",
             exemption_category="Waiver", exemption_justification=f"CHG-1 {h['script']}"),
        _row("RSV-001", "Compliant", v_ok, v_ok, "publicNetworkAccess Disabled"),
        _row("DNS-001", "NonCompliant", pe_jinja, v_ok, f"x.privatelink.eus.backup.windowsazure.com has no A record {h['jinja']}"),
        _row("DNS-001", "NonCompliant", pe_comment, v_img, f"no A record {h['comment']}"),
        _row("DNS-001", "Error", pe_sur, v_break, f"403 on privateDnsZones {h['surrogate']}"),
        _row("DNS-001", "NotApplicable", pe_id(SUB_A, "rg-alpha", "pe-custom"), v_ok, "custom DNS"),
        _row("PE-001", "NonCompliant", pe_id(SUB_B, "rg-delta", "pe-pending"), v_ctrl,
             f"connection Pending on {h['ctrl']}"),
        _row("PE-001", "Compliant", pe_id(SUB_A, "rg-alpha", "pe-ok"), v_ok, "Approved"),
        _row("RSV-002", "NonCompliant", v_ctrl, v_ctrl, f"no backup PE connection {h['ctrl']}"),
        _row("RSV-002", "NonCompliant", v_rtl, v_rtl, "no backup PE connection"),
        _row("RSV-002", "Compliant", v_ok, v_ok, "has a backup PE"),
        _row("DNS-006", "NonCompliant",
             f"/subscriptions/{SUB_A}/resourceGroups/rg-alpha/providers/Microsoft.Network/virtualNetworks/vnet-dns",
             v_ok, "VNet uses DNS servers 10.0.0.53; forward privatelink zones to 168.63.129.16"),
        _row("DNS-006", "NotApplicable",
             f"/subscriptions/{SUB_B}/resourceGroups/rg-gamma/providers/Microsoft.Network/virtualNetworks/vnet-az",
             v_break, "Azure-provided DNS"),
    ]
    sev_rank = {s: i for i, s in enumerate(["Critical", "High", "Medium", "Low", "Informational"])}
    rows.sort(key=lambda r: (sev_rank[r["severity"]], r["rule_id"], r["resource_id"].lower()))
    df = pd.DataFrame(rows)
    if with_change:
        df["change"] = [("new" if i % 2 else "unchanged") if s == "NonCompliant" else None
                        for i, s in enumerate(df["compliance_state"])]
    return df


def make_meta(df: pd.DataFrame, *, resolve_used: bool = False, baseline: bool = False) -> dict:
    counts = df["compliance_state"].value_counts().to_dict()
    good = counts.get("Compliant", 0) + counts.get("Exempt", 0)
    den = good + counts.get("NonCompliant", 0) + counts.get("Error", 0)
    meta = {
        "generated_at": "2025-11-25T19:00:00Z",
        "tool": {"name": "auditor", "version": "0.1.0"},
        "inputs": ["tests/fixtures/estate.json", f"dir/{HOSTILE['script']}"],
        "subscriptions": [SUB_A, SUB_B],
        "summary": {"by_state": counts, "compliance_pct": (100.0 * good / den) if den else None},
        "errors": [
            {"scope": f"/subscriptions/{SUB_B}/resourceGroups/rg-gamma", "status": 403,
             "message": f"AuthorizationFailed {HOSTILE['img']}", "types": ["Microsoft.Network/privateDnsZones"]},
            {"scope": "", "status": "malformed", "message": "object #3 has no id", "types": []},
        ],
        "rules": RULES,
        "resolve_used": resolve_used,
    }
    if baseline:
        meta["resolved"] = [{
            "finding_id": "abc", "rule_id": "PE-001", "title": "PE connection not approved", "severity": "High",
            "compliance_state": "NonCompliant", "resource_id": pe_id(SUB_A, "rg-alpha", "pe-fixed-" + HOSTILE["img"]),
            "resource_name": "pe-fixed", "message": "was Pending"}]
    return meta


def make_chains() -> list[dict]:
    v_ok = vault_id(SUB_A, "rg-alpha", "vault-ok")
    v_bad = vault_id(SUB_B, "rg-gamma", HOSTILE["breakout"])
    zone = f"/subscriptions/{SUB_A}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/"
    return [
        {"vault_id": v_ok, "vault_name": "vault-ok", "subscription_id": SUB_A, "experience": "v1",
         "endpoints": [{
             "pe_id": pe_id(SUB_A, "rg-alpha", "pe-ok"), "pe_name": "pe-ok", "kind": "backup",
             "status": "pe:approved, vault:approved",
             "in_input": True,
             "fqdns": [
                 {"fqdn": "vid-ab-pod01-fc1.privatelink.eus.backup.windowsazure.com", "expected_ips": ["10.0.0.4"],
                  "zone_name": "privatelink.eus.backup.windowsazure.com",
                  "zone_id": zone + "privatelink.eus.backup.windowsazure.com", "linked": True,
                  "record_ips": ["10.0.0.4"], "resolved": ["10.0.0.4"], "broken": None},
                 {"fqdn": "vid-ab-pod01-prot1.privatelink.eus.backup.windowsazure.com", "expected_ips": ["10.0.0.5"],
                  "zone_name": "privatelink.eus.backup.windowsazure.com",
                  "zone_id": zone + "privatelink.eus.backup.windowsazure.com", "linked": True,
                  "record_ips": ["10.0.0.5"], "resolved": ["10.0.0.5"], "broken": None},
             ]}]},
        {"vault_id": v_bad, "vault_name": HOSTILE["breakout"], "subscription_id": SUB_B, "experience": "undetermined",
         "endpoints": [
             {"pe_id": pe_id(SUB_B, "rg-gamma", "pe-bad"), "pe_name": "pe-bad" + HOSTILE["img"], "kind": "backup",
              "status": "pe:approved, vault:pending", "in_input": True,
              "fqdns": [
                  {"fqdn": "x-ab-pod01-fc1.privatelink.eus.backup.windowsazure.com", "expected_ips": ["10.1.0.4"],
                   "zone_name": "privatelink.eus.backup.windowsazure.com", "zone_id": None, "linked": False,
                   "record_ips": [], "resolved": [], "broken": "no zone linked to the VNet"},
                  {"fqdn": "x-ab-pod01-id1.privatelink.eus.backup.windowsazure.com", "expected_ips": ["10.1.0.5"],
                   "zone_name": "privatelink.eus.backup.windowsazure.com",
                   "zone_id": zone + "privatelink.eus.backup.windowsazure.com", "linked": True,
                   "record_ips": ["10.9.9.9"], "resolved": ["52.1.2.3"], "broken": "resolves to 52.1.2.3"},
                  {"fqdn": "x-ab-pod01-rec2.privatelink.eus.backup.windowsazure.com", "expected_ips": ["10.1.0.6"],
                   "zone_name": "privatelink.eus.backup.windowsazure.com",
                   "zone_id": zone + "privatelink.eus.backup.windowsazure.com", "linked": True,
                   "record_ips": [], "resolved": None, "broken": "no A record"},
              ]},
             {"pe_id": pe_id(SUB_B, "rg-gamma", "pe-bad_ecs1234_blob"), "pe_name": "pe-bad_ecs1234_blob",
              "kind": "storage", "status": "Succeeded", "in_input": True,
              "fqdns": [{"fqdn": "ecs1234.blob.core.windows.net", "expected_ips": ["10.1.0.7"],
                         "zone_name": "privatelink.blob.core.windows.net",
                         "zone_id": zone + "privatelink.blob.core.windows.net", "linked": True,
                         "record_ips": ["10.1.0.7"], "resolved": ["10.1.0.7"], "broken": None}]},
             {"pe_id": pe_id(SUB_B, "rg-gamma", "pe-custom"), "pe_name": "pe-custom", "kind": "backup",
              "status": "vault:approved", "in_input": True, "custom_dns": True,
              "fqdns": [{"fqdn": "c-ab-pod01-fc1.privatelink.eus.backup.windowsazure.com",
                         "expected_ips": ["10.2.0.4"], "zone_name": "privatelink.eus.backup.windowsazure.com",
                         "zone_id": None, "linked": False, "record_ips": [], "resolved": ["10.2.0.4"],
                         "broken": None}]},
             {"pe_id": pe_id(SUB_B, "rg-gamma", "pe-elsewhere"), "pe_name": "pe-elsewhere", "kind": "backup",
              "status": "vault:approved", "in_input": False, "fqdns": []},
         ]},
    ]


def make_big_findings(n: int = 100_000, non_compliant: int = 20_000) -> pd.DataFrame:
    """A realistic-size frame: ``n`` evaluations, ``non_compliant`` of them NonCompliant, ids ~120 chars and
    messages ~160 chars, as the engine writes them."""
    rules = [(r["id"], r["title"], r["severity"], r["remediation"]) for r in RULES]
    states = []
    for i in range(n):
        if i % (n // non_compliant) == 0:
            states.append("NonCompliant")
        elif i % 97 == 1:
            states.append("Error")
        elif i % 89 == 2:
            states.append("Exempt")
        elif i % 7 == 3:
            states.append("NotApplicable")
        else:
            states.append("Compliant")
    rows = {k: [] for k in ("finding_id", "rule_id", "title", "severity", "compliance_state", "subscription_id",
                            "resource_group", "resource_type", "resource_id", "resource_name", "vault_id", "message",
                            "remediation", "exemption_category", "exemption_justification")}
    for i, st in enumerate(states):
        rid, title, sev, rem = rules[i % len(rules)]
        sub = f"{i % 40:08d}-1111-2222-3333-444455556666"
        rg = f"rg-backup-prod-{i % 300:03d}"
        name = f"pe-vault-{i:06d}-backup-eus"
        res = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateEndpoints/{name}"
        rows["finding_id"].append(f"{i:016x}")
        rows["rule_id"].append(rid)
        rows["title"].append(title)
        rows["severity"].append(sev)
        rows["compliance_state"].append(st)
        rows["subscription_id"].append(sub)
        rows["resource_group"].append(rg)
        rows["resource_type"].append("Microsoft.Network/privateEndpoints")
        rows["resource_id"].append(res)
        rows["resource_name"].append(name)
        rows["vault_id"].append(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/"
                                f"vaults/rsv-{i % 2000:04d}")
        rows["message"].append(f"FQDN {name}.privatelink.eus.backup.windowsazure.com has no A record in zone "
                               f"privatelink.eus.backup.windowsazure.com linked to VNet vnet-{i % 500:03d}")
        rows["remediation"].append(rem.format(resource_group=rg, resource_name=name, resource_id=res,
                                              subscription_id=sub))
        rows["exemption_category"].append("Waiver" if st == "Exempt" else None)
        rows["exemption_justification"].append("accepted risk, CHG-1234" if st == "Exempt" else None)
    return pd.DataFrame(rows)
