"""What a rule is: metadata plus vectorised predicates over one prepared view (see :mod:`auditor.model`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from . import arm

SEVERITIES = ("Critical", "High", "Medium", "Low", "Informational")
STATES = ("NonCompliant", "Error", "Exempt", "Compliant", "NotApplicable")
SEED = "Azure Backup documentation, 'Overview and concepts of private endpoints (v1 experience) for Azure Backup'"
DOC_URL = "https://learn.microsoft.com/azure/backup/private-endpoints-overview"

# The subject views and the ARM type their rows are.
SUBJECT_TYPES = {
    "vaults": "Microsoft.RecoveryServices/vaults",
    "endpoints": "Microsoft.Network/privateEndpoints",
    "subnets": "Microsoft.Network/virtualNetworks/subnets",
    "vnets": "Microsoft.Network/virtualNetworks",
    "providers": "Microsoft.Resources/providers",
    "workloads": arm.VM,
    "assignments": arm.POLICY_ASSIGNMENT,
}
SUBJECT_LABELS = {"vaults": "vault", "endpoints": "private endpoint", "subnets": "subnet",
                  "vnets": "virtual network", "providers": "resource provider", "workloads": "workload",
                  "assignments": "policy assignment"}

Pred = Callable[[pd.DataFrame, dict], pd.Series]

# Convenience groups of the types rules read (an error record on any of them under a row's deps makes it Error).
NETWORK = (arm.PRIVATE_ENDPOINT, arm.NIC)
DNS = (arm.ZONE, arm.A_RECORD, arm.VNET_LINK)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    subject: str                      # a view of auditor.model.Model
    rationale: str                    # the seed sentence it rests on
    condition: str                    # when it is NonCompliant, in words (docs/rules.md)
    remediation: str                  # str.format with resource_group, resource_name, resource_id, subscription_id
    applies: Pred
    violates: Pred
    message: Pred                     # evidence, for Compliant and NonCompliant rows
    not_applicable: Pred | str = "the rule does not apply"
    error: Pred | None = None         # rule-specific Error rows (a Series of messages, None where fine)
    reads: tuple[str, ...] = ()       # ARM types whose unreadable scopes make a row Error
    needs: tuple[tuple[str, ...], ...] = ()   # each inner tuple: at least one of these types must be in the input
    candidates: Pred | None = None    # rows a missing needed type makes Error (default: the applicable rows)
    # rows whose applicability rests on what the subject covers (engine.SUBJECT_COVERAGE: an unreadable listing of
    # those types makes only these rows Error); None: every row
    coverage_decides: Pred | None = None
    judges_references: bool = False   # evaluates subjects known only by reference (PE-001)
    params: dict = field(default_factory=dict)
    references: tuple[str, ...] = (DOC_URL,)
    only_with: str | None = None      # "resolve": evaluated only when the run resolved names (DNS-007)
    policies: dict = field(default_factory=dict)   # Azure Policy built-in GUID -> "matches" | "goes beyond"
    mcsb: tuple[str, ...] = ()        # Microsoft cloud security benchmark v1 controls it supports (auditor.frameworks)
    experience: bool = False          # the verdict depends on the vault's experience (v1 / v2 / undetermined)

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity
        assert self.subject in SUBJECT_TYPES, self.subject
        from .frameworks import MCSB, POLICIES, RELATIONS
        assert all(g in POLICIES and r in RELATIONS for g, r in self.policies.items()), self.policies
        assert all(c in MCSB for c in self.mcsb), self.mcsb
        if self.mcsb:  # the framework sources are cited with the rule's own references
            from .frameworks import MCSB_BASELINE
            cited = tuple(MCSB[c][1] for c in self.mcsb) + (MCSB_BASELINE,)
            object.__setattr__(self, "references", tuple(dict.fromkeys(self.references + cited)))


def join(values: pd.Series, sep: str = "; ") -> pd.Series:
    """Tuples of texts -> one text each."""
    return values.map(lambda v: sep.join(v) if isinstance(v, tuple) else "")


def text(values: pd.Series, absent: str = "(absent)") -> pd.Series:
    return values.where(values.notna() & (values.astype(str) != ""), absent).astype(str)
