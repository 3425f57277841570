"""The rule catalogue as documents: one dict per rule (``auditor rules --format json``, report metadata) and the
Markdown catalogue ``docs/rules.md`` (``auditor rules --format markdown``), both generated from the rules' own
metadata so that the documentation cannot drift from the code."""
from __future__ import annotations

from .frameworks import MCSB, POLICIES, describe
from .rule import SEVERITIES, STATES, SUBJECT_LABELS, SUBJECT_TYPES, Rule


# The terms the rules' conditions use, defined once.
TERMS = (
    ("Backup private endpoint (PE) of a vault",
     "a `Microsoft.Network/privateEndpoints` resource with a connection (automatic or manual) whose "
     "`privateLinkServiceId` is the vault id and whose `groupIds` hold `AzureBackup` or `AzureBackup_secondary`; or an "
     "entry of the vault's `privateEndpointConnections` with such a group id (its PE may live outside the input). "
     "`AzureSiteRecovery` is not Backup. Vault connections read with API versions before 2023-04-01 carry no "
     "`groupIds`: such a connection is a backup one when its name holds the label `backup` between dots."),
    ("Uses private endpoints", "the vault has at least one backup PE connection, whatever its status."),
    ("Known only by reference",
     "a PE that a vault connection names but that is not in the input: PE-001 judges it from the vault side, the "
     "other PE and DNS rules give it `NotApplicable` (\"not in the input\")."),
    ("Storage PE of a backup PE",
     "a PE in the same subscription and resource group whose name starts with `<backup PE name>_ecs` or "
     "`<backup PE name>_prot` and ends with `_blob` or `_queue`."),
    ("FQDNs of a PE",
     "the PE's `customDnsConfigs[].fqdn` (expected IPs: `ipAddresses`) and its NICs' "
     "`privateLinkConnectionProperties.fqdns` (expected IP: that ipConfiguration's `privateIPAddress`), lower-cased, "
     "without a trailing dot."),
    ("Zone and record of an FQDN",
     "from the label `privatelink` on, the zone; before it, the record (`x.privatelink.eus.backup.windowsazure.com` -> "
     "zone `privatelink.eus.backup.windowsazure.com`, record `x`); an FQDN without that label gets `privatelink.` "
     "after its first label (`acct.blob.core.windows.net` -> `privatelink.blob.core.windows.net`, record `acct`)."),
    ("A record of an FQDN",
     "an A record set of that name holding an IPv4 address, in the zone of that name linked to the PE's VNet; when no "
     "such zone is linked, in any zone of that name in the input."),
    ("Experience",
     "v2 (enhanced) when a backup PE has an FQDN in a `privatelink.blob`/`privatelink.queue` zone or the vault has an "
     "`AzureBackup_secondary` connection; v1 (classic) when a storage PE of one of its backup PEs exists; otherwise "
     "undetermined, judged as v1 with messages that say so."),
    ("Custom DNS", "the PE's VNet has `dhcpOptions.dnsServers`: DNS-001..004 are then `NotApplicable` and DNS-006 speaks."),
    ("Covers", "a scope covers a resource id when it equals it or is a prefix followed by `/` (case-insensitive); `/` "
               "covers everything; a management-group scope covers the resources of the subscriptions below the group "
               "when the input holds the group (`Microsoft.Management/managementGroups` with their children or "
               "descendants), and everything when it does not (the POL rules; IAM-001 still treats it as everything)."),
    ("Assignment A applies built-in X",
     "`policyDefinitionId` ends with `/policyDefinitions/X`, or names a set (`policySetDefinitions`) with a member whose "
     "`policyDefinitionId` ends with `/X`. A set that is not in the input: `NotApplicable` (\"set definition not in "
     "the input\"); live, a set that could not be read: `Error`."),
    ("Parameter P of X under A",
     "direct: the assignment's `parameters.P.value`, else X's default. Through a set: the member's `parameters.P.value`; "
     "`[parameters('Q')]` there is the assignment's `Q`, else the set's default of `Q`; no member value: X's default. "
     "The effect: an `overrides[]` item of kind `policyEffect` whose `policyDefinitionReferenceId` selectors "
     "(`in`/`notIn`) match the member, or that has no selector, wins."),
    ("Enforced", "`enforcementMode` absent or `Default`; otherwise the POL rules give `NotApplicable`."),
    ("A covers R",
     "the assignment's `scope` covers R's id, no `notScopes` entry covers it, and R's location passes every "
     "`resourceSelectors[].selectors[]` of kind `resourceLocation` (`in`/`notIn`)."),
    ("Geo code of a region",
     "the `location` lower-cased without spaces, looked up in the shipped tables (Azure/terraform-azurerm-avm-utl-regions "
     "by ARM name, then the Azure Backup geo-code list by display name); the `geo_codes` parameter adds or overrides "
     "entries. A backup zone's geo: `^privatelink\\.([a-z0-9]+)\\.backup\\.` on the zone name."),
    ("Not in the input / Error",
     "a single referenced object missing while others of its type are present gives `NotApplicable` (\"not in the "
     "input\"); a type a rule needs that is absent from the whole input, or a scope that could not be read, gives "
     "`Error`."),
)


EXPERIENCE = ("judged by the vault's experience, inferred from the input: v2 (enhanced) when a backup endpoint carries "
              "an FQDN in a privatelink.blob/queue zone or the vault has an AzureBackup_secondary connection; v1 "
              "(classic) when a storage endpoint (<backup PE>_ecs…/_prot…_blob/_queue) of a backup endpoint exists; "
              "otherwise undetermined, judged as v1. The HTML report's chain names each vault's experience and the "
              "evidence for it.")


def flat_params(params: dict, prefix: str = ""):
    """Parameters as the TOML config names them: a table's keys dotted (PE-003's min_free_ips.v1)."""
    for k, v in params.items():
        if isinstance(v, dict):
            yield from flat_params(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def rule_doc(rule: Rule) -> dict:
    return {"id": rule.id, "title": rule.title, "severity": rule.severity, "subject": rule.subject,
            "condition": rule.condition, "rationale": rule.rationale, "remediation": rule.remediation,
            "params": rule.params, "references": list(rule.references),
            "policies": [{"id": g, "name": POLICIES.get(g, ""), "relation": r} for g, r in rule.policies.items()],
            "mcsb_controls": [{"id": c, "title": MCSB[c][0], "url": MCSB[c][1]} for c in rule.mcsb],
            "depends_on_experience": rule.experience}


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _params(rule: Rule) -> str:
    return ", ".join(f"`{k}` = `{v}`" for k, v in flat_params(rule.params)) or "none"


def rules_markdown(rules: tuple[Rule, ...]) -> str:
    """docs/rules.md: the catalogue table, then one section per rule."""
    out = ["# Rule catalogue", "",
           "Generated by `auditor rules --format markdown` from the rules' own metadata (`rules/*.py`); a test checks",
           "that this file equals the generator's output. Do not edit it by hand.", "",
           "Every rule evaluates every resource of its subject and gives each one of these states: "
           + ", ".join(f"`{s}`" for s in STATES) + ". Severities: " + ", ".join(f"`{s}`" for s in SEVERITIES) + ".",
           "", "## Terms", "", *[f"- **{term}**: {meaning}" for term, meaning in TERMS],
           "", "## Rules", "", "| ID | Severity | Subject | ARM type | Title |", "| --- | --- | --- | --- | --- |"]
    for r in rules:
        extra = " (only with `--resolve`)" if r.only_with == "resolve" else ""
        out.append(f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {SUBJECT_LABELS[r.subject]} | "
                   f"`{SUBJECT_TYPES[r.subject]}` | {_cell(r.title)}{extra} |")
    for r in rules:
        out += ["", f"### {r.id}", "", f"**{_cell(r.title)}** ({r.severity}, subject: {SUBJECT_LABELS[r.subject]})", "",
                f"- **NonCompliant when**: {r.condition}",
                f"- **NotApplicable**: {r.not_applicable if isinstance(r.not_applicable, str) else 'see the message'}",
                f"- **Rationale**: {r.rationale}",
                f"- **Remediation**: `{r.remediation}`",
                f"- **Parameters**: {_params(r)}",
                f"- **Needs**: {'--resolve' if r.only_with == 'resolve' else 'exported or live ARM data'}",
                f"- **Experience**: {EXPERIENCE if r.experience else 'any (the verdict does not depend on it)'}",
                "- **Frameworks**: " + ("; ".join(describe(r)) or "none"),
                "- **References**: " + " ".join(f"<{u}>" for u in r.references)]
    return "\n".join(out) + "\n"
