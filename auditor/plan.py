"""``auditor plan``: the audit's NonCompliant findings as an ordered fix plan, ``remediation.sh`` and
``remediation.md``. The auditor only writes the plan; a person reviews it and runs it with the Azure CLI.

The steps come from :mod:`auditor.model.fixes` (one per change, each naming the findings it fixes). A step is in the plan
when one of its findings is NonCompliant (an Exempt finding is left alone). The order keeps backups and restores
working at every point:

1. resource provider registration (SUB-001/SUB-002), per subscription;
2. per subscription and vault: connection approvals (PE-001), DNS records (DNS-001..003), zone links (DNS-004),
   the vault's identity (RSV-005) and its role grants (IAM-001), then the steps left for review;
3. last, public network access (RSV-001), and only on a vault that has an approved, healthy backup private endpoint
   (now, or through an approval step above) and no DNS step of its endpoints waiting for review; otherwise the step
   is left for review with the reason.

Steps that are irreversible or disruptive, or that need a value only a person can choose, are written commented out
under ``# REVIEW: <why>``. Guards make the script idempotent where the CLI allows: an A record address already present
is not added again, a zone link is created only when ``show`` does not find it, a role only when not assigned.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import arm
from .model.fixes import PUBLIC, REGISTER, REVIEW, Step, clean
from .fsutil import write_text_atomic

HELPERS = r'''# Read-only helpers that make the steps idempotent.
has_a_record() {  # subscription resource-group zone record ip: the A record set already holds the address
  az network private-dns record-set a show --subscription "$1" --resource-group "$2" --zone-name "$3" --name "$4" \
    --query "aRecords[].ipv4Address" --output tsv 2>/dev/null | grep -qxF -- "$5"
}
wait_registered() {  # subscription namespace: up to 5 minutes for the registration to complete, then go on
  for _ in $(seq 30); do
    [ "$(az provider show --subscription "$1" --namespace "$2" --query registrationState --output tsv 2>/dev/null)" \
      = Registered ] && return 0
    sleep 10
  done
  echo "warning: $2 is not Registered yet in subscription $1" >&2
}
has_role() {  # subscription principal role-guid scope: the principal holds the role at exactly that scope
  az role assignment list --subscription "$1" --scope "$4" --fill-principal-name false \
    --fill-role-definition-name false --query "[?principalId=='$2'].roleDefinitionId" --output tsv 2>/dev/null \
    | grep -qi -- "/$3\$"
}
'''


@dataclass
class Planned:
    step: Step
    findings: list[tuple[str, str, str]]   # (finding id, rule id, resource id) of the NonCompliant findings it fixes
    review: str = ""                       # the step's own reason, or why the plan holds it back

    @property
    def runs(self) -> bool:
        return not self.review


@dataclass
class Plan:
    providers: list[Planned] = field(default_factory=list)
    vaults: dict[tuple[str, str], list[Planned]] = field(default_factory=dict)   # (subscription, vault id) -> steps
    public: dict[tuple[str, str], list[Planned]] = field(default_factory=dict)
    uncovered: list[dict] = field(default_factory=list)   # NonCompliant findings no step fixes
    vault_names: dict[str, str] = field(default_factory=dict)

    def all(self) -> list[Planned]:
        out = list(self.providers)
        for steps in self.vaults.values():
            out.extend(steps)
        for steps in self.public.values():
            out.extend(steps)
        return out


def build(steps: Iterable[Step], findings: pd.DataFrame, vault_names: dict[str, str] | None = None) -> Plan:
    """The plan for the NonCompliant findings of ``findings`` out of the model's ``steps``."""
    nc = findings[findings["compliance_state"] == "NonCompliant"]
    fid = {(r, i.lower()): (f, r, i) for f, r, i in zip(nc["finding_id"], nc["rule_id"], nc["resource_id"])}
    chosen: list[Planned] = []
    covered: set[tuple[str, str]] = set()
    for s in steps:
        hit = [fid[t] for t in s.targets if t in fid]
        if hit:
            chosen.append(Planned(s, hit, s.review))
            covered.update(t for t in s.targets if t in fid)
    running = {p.step.key for p in chosen if p.runs}
    held = {p.step.key for p in chosen if not p.runs}
    for p in chosen:
        s = p.step
        if s.phase != PUBLIC or p.review:
            continue
        if not (s.usable_now or any(k in running for k in s.requires_any)):
            p.review = ("the vault has no approved backup private endpoint, and this plan approves none: disabling "
                        "public network access would stop its backups and restores")
        elif any(k in held for k in s.blocked_by):
            p.review = ("the DNS fix of the vault's endpoints waits for review above: disable public network access "
                        "once their names resolve to the endpoints' private IPs")
    plan = Plan(vault_names=dict(vault_names or {}))
    for p in sorted(chosen, key=lambda p: (p.step.phase, p.step.key)):
        s = p.step
        if s.phase == REGISTER:
            plan.providers.append(p)
            continue
        group = (arm.subscription_of(s.vault) or s.sub.lower(), s.vault)
        (plan.public if s.phase == PUBLIC else plan.vaults).setdefault(group, []).append(p)
    for target in (plan.vaults, plan.public):
        for k in list(target):
            target[k].sort(key=lambda p: (p.step.phase if p.runs or p.step.phase == PUBLIC else REVIEW, p.step.key))
    plan.vaults = dict(sorted(plan.vaults.items()))
    plan.public = dict(sorted(plan.public.items()))
    plan.providers.sort(key=lambda p: p.step.sub.lower())
    left = nc[[(r, i.lower()) not in covered for r, i in zip(nc["rule_id"], nc["resource_id"])]]
    plan.uncovered = left[["finding_id", "rule_id", "resource_id", "message", "remediation"]].to_dict("records")
    return plan


# ------------------------------------------------------------------------------------------------ remediation.sh

def _fixes_line(p: Planned) -> str:
    return "# fixes: " + ", ".join(f"{f} ({r} {clean(i)})" for f, r, i in p.findings)


def _step_lines(n: int, p: Planned) -> list[str]:
    s = p.step
    out = []
    if p.review:
        out.append(f"# REVIEW: {clean(p.review)}")
    out.append(f"# [{n}] {clean(s.what)}")
    out.append(_fixes_line(p))
    for line in s.script:
        out.append(("# " if p.review else "") + line)
    out.append("")
    return out


def _vault_sections(out: list[str], groups: dict, n: int, sub_head, vault_head, step) -> int:
    """Steps grouped by subscription, then vault, numbered on from ``n`` (the headings and the step's lines in the
    caller's format); returns the last number used."""
    sub = None
    for (s, vault), steps in groups.items():
        if s != sub:
            sub = s
            out += [sub_head(s), ""]
        out += [vault_head(vault), ""]
        for p in steps:
            n += 1
            out += step(n, p)
    return n


def _script_sections(out: list[str], plan, groups: dict, n: int) -> int:
    return _vault_sections(out, groups, n, lambda s: f"# ==== subscription {clean(s)}",
                           lambda v: f"# ---- vault {_vault_title(plan, v)}", _step_lines)


def _vault_title(plan: Plan, vault: str) -> str:
    return clean(plan.vault_names.get(vault, vault)) if vault else "(endpoints of no known vault)"


def render_script(plan: Plan, header: dict) -> str:
    steps = plan.all()
    n_run = sum(1 for p in steps if p.runs)
    n_review = len(steps) - n_run
    n_fixed = len({f for p in steps if p.runs for f, _, _ in p.findings})
    out = ["#!/usr/bin/env bash",
           f"# Remediation plan written by auditor {header.get('version', '')} at {header.get('generated_at', '')}",
           f"# from {clean(', '.join(header.get('inputs') or []) or '(no input)')}.",
           f"# {n_run} step(s) to run, fixing {n_fixed} finding(s); {n_review} step(s) for review (commented out "
           "under '# REVIEW:'); "
           f"{len(plan.uncovered)} finding(s) with no automated step (listed at the end).",
           "# The auditor never runs this script. Review it, run it with the Azure CLI (az login), then run",
           "# `auditor audit` again: the findings named on the steps that ran show as Compliant.",
           "# Order: provider registration; per subscription and vault: connection approvals, DNS records, zone",
           "# links, the vault's identity and its role grants; public network access last, and only on vaults with an",
           "# approved backup private endpoint.",
           "set -euo pipefail", "", HELPERS]
    n = 0
    if plan.providers:
        out += ["# ======================================================================== 1. resource providers", ""]
        for p in plan.providers:
            n += 1
            out.append(f"# ---- subscription {clean(p.step.sub)}")
            out += _step_lines(n, p)
    if plan.vaults:
        out += ["# ======================================================================== 2. per subscription and "
                "vault", ""]
        n = _script_sections(out, plan, plan.vaults, n)
    if plan.public:
        out += ["# ======================================================================== 3. public network access "
                "(last)", ""]
        n = _script_sections(out, plan, plan.public, n)
    if plan.uncovered:
        out += ["# ======================================================================== 4. no automated step", ""]
        for f in plan.uncovered:
            out.append(f"# REVIEW: {f['finding_id']} ({f['rule_id']} {clean(f['resource_id'])}): "
                       f"{clean(f['remediation'] or f['message'])}")
        out.append("")
    out.append('echo "remediation plan: all steps ran" >&2')
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ remediation.md

def _code(text: str) -> str:
    text = clean(text).replace("`", "'")
    return f"`{text}`"


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", clean(text))


def _fence(lines: list[str]) -> list[str]:
    body = [clean(x) for x in lines]
    longest = max((len(m) for x in body for m in re.findall(r"`+|~+", x)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "bash", *body, fence]


def _md_step(n: int, p: Planned) -> list[str]:
    s = p.step
    out = [f"{n}. **{_md(s.what)}**" + (" — **REVIEW**: " + _md(p.review) if p.review else "")]
    out.append("   Fixes: " + ", ".join(f"{_code(f)} ({r} {_code(i)})" for f, r, i in p.findings))
    out.append("")
    out += ["   " + x for x in _fence(s.script)]
    out.append("")
    return out


def render_markdown(plan: Plan, header: dict) -> str:
    steps = plan.all()
    n_run = sum(1 for p in steps if p.runs)
    out = ["# Remediation plan", "",
           f"Written by auditor {_md(header.get('version', ''))} at {_md(header.get('generated_at', ''))} from "
           f"{_md(', '.join(header.get('inputs') or []) or '(no input)')}. The auditor never runs it.", "",
           "| steps to run | steps for review | findings fixed by the steps to run | findings with no automated step |",
           "| --- | --- | --- | --- |",
           f"| {n_run} | {len(steps) - n_run} | {len({f for p in steps if p.runs for f, _, _ in p.findings})} | "
           f"{len(plan.uncovered)} |", "",
           "## How to apply", "",
           "1. Review every step, and decide on each **REVIEW** step (they are commented out in `remediation.sh`).",
           "2. Run `bash remediation.sh` with the Azure CLI logged in (`az login`); it stops at the first failure "
           "(`set -euo pipefail`) and can be run again (guards skip what is already done).",
           "3. Run `auditor audit` again: the findings the steps name show as Compliant.", "",
           "`has_a_record`, `has_role` and `wait_registered` are read-only helpers defined at the top of "
           "`remediation.sh` (they make the steps safe to run again).", "",
           "Order: provider registration; per subscription and vault: connection approvals, DNS records, zone links, "
           "the vault's identity and its role grants; public network access last, and only on vaults with an "
           "approved backup private endpoint.", ""]
    n = 0
    if plan.providers:
        out += ["## 1. Resource providers", ""]
        for p in plan.providers:
            n += 1
            out += _md_step(n, p)
    for title, groups in (("## 2. Per subscription and vault", plan.vaults),
                          ("## 3. Public network access (last)", plan.public)):
        if not groups:
            continue
        out += [title, ""]
        n = _vault_sections(out, groups, n, lambda s: f"### Subscription {_code(s)}",
                            lambda v: f"#### Vault {_code(_vault_title(plan, v))}", _md_step)
    if plan.uncovered:
        out += ["## 4. Findings with no automated step", "", "| finding | rule | resource | remediation |",
                "| --- | --- | --- | --- |"]
        for f in plan.uncovered:
            out.append(f"| {_code(f['finding_id'])} | {f['rule_id']} | {_code(f['resource_id'])} | "
                       f"{_md(f['remediation'] or f['message'])} |")
        out.append("")
    return "\n".join(out) + "\n"


def write(out_dir: str | Path, plan: Plan, header: dict) -> list[Path]:
    """Write remediation.sh and remediation.md atomically; returns their paths."""
    out = Path(out_dir)
    sh, md = out / "remediation.sh", out / "remediation.md"
    write_text_atomic(sh, render_script(plan, header))
    write_text_atomic(md, render_markdown(plan, header))
    return [sh, md]
