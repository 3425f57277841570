"""The policy view: one row per Azure Policy assignment, with what the POL rules judge it by.

An assignment names a policy definition or a set (initiative). For each *member* (the definition itself, or each of
the set's ``policyDefinitions[]``) the view resolves the effect and the parameters the rules read, as Azure Policy
does: an ``overrides[]`` item of kind ``policyEffect`` whose ``policyDefinitionReferenceId`` selectors match the
member (or that has none) wins for the effect; else the member's parameter value, where ``[parameters('Q')]`` is the
assignment's ``Q`` or else the set's default of ``Q``; else the definition's default (built-ins: the defaults in
:data:`auditor.arm.BUILTIN_POLICY_DEFAULTS`; custom definitions: their own, when in the input). A set that is not in
the input leaves the assignment undecided (``set_missing``): the POL rules say "set definition not in the input".

An assignment *covers* a resource when its scope covers the resource id (management-group scopes through the
management group hierarchy when the input holds the group, else everything), no ``notScopes`` entry covers it, and
the resource's location passes every ``resourceSelectors[].selectors[]`` of kind ``resourceLocation``.

The rules' verdicts that depend on their parameters (``geo_codes``, ``backup_dns_definitions``) are computed by
:func:`verdicts`, once per view and parameter set.
"""
from __future__ import annotations

from .coverage import COLUMNS, Hierarchy, approved_vaults, assignment_covers, build, location_passes
from .parameters import DENY, DINE, MODIFY, PARAM_REF, ZONE_PARAM, Member
from .pol_verdicts import explained_pes, pol001, pol002, pol003, report_rows, under_groups, verdicts

__all__ = ["COLUMNS", "DENY", "DINE", "MODIFY", "PARAM_REF", "ZONE_PARAM", "Hierarchy", "Member",
           "approved_vaults", "assignment_covers", "build", "explained_pes", "location_passes", "pol001",
           "pol002", "pol003", "report_rows", "under_groups", "verdicts"]
