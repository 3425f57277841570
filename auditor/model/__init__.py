"""Tidy frames and the joins every rule reads, computed once.

``build`` turns the extractors' records into pandas frames (:mod:`.frames`) and then into five subject views, one
per rule subject (vaults, endpoints, subnets, vnets, providers), plus the FQDN view, through one named builder per
view (:mod:`.endpoints`, :mod:`.fqdns`, :mod:`.vaults`, :mod:`.iam`, :mod:`.network`, :mod:`.providers`;
:mod:`.html_chains` for the report). Every view column is declared with its meaning in :data:`VIEW_COLUMNS`
(:mod:`.columns`). Each view carries the evidence its rules read and a ``deps`` column: the lower-cased ids of
everything the row's verdict rests on (``zone:<name>`` when it rests on the *absence* of a private DNS zone, record
or link of that zone name, which could live anywhere), matched by the engine against error records.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from . import fixes, hardening
from .workloads import build_workloads
from . import policy
from ..extract import Tables
from .html_chains import chains
from .columns import TEXT_COLUMNS, VIEW_COLUMNS
from .endpoints import (add_dns_evidence, add_links, attach_storage, backup_connections, endpoint_base, experiences,
                        finish_endpoints, storage_pairs)
from .fqdns import fqdn_view, nic_endpoint_pairs, split_fqdn, zone_and_record
from .frames import COLUMNS, UNIQUE, Frames, connections, first_of_each, frame, records
from .iam import NEEDS, custom_grants, identity_gaps
from .network import ipv4_capacity, subnet_view, vnet_view
from .providers import REREGISTER_CUTOFF, provider_view
from .vaults import add_vault_deps, vault_view

__all__ = ["Model", "build", "chains", "frame", "records", "first_of_each", "Frames", "COLUMNS", "UNIQUE",
           "TEXT_COLUMNS", "VIEW_COLUMNS", "NEEDS", "custom_grants", "split_fqdn", "zone_and_record", "ipv4_capacity",
           "REREGISTER_CUTOFF"]


@dataclass
class Model:
    """The prepared views the rules read, plus what the engine needs to judge missing data."""
    vaults: pd.DataFrame
    endpoints: pd.DataFrame
    subnets: pd.DataFrame
    vnets: pd.DataFrame
    providers: pd.DataFrame
    fqdns: pd.DataFrame
    present: set[str]
    errors: list[dict]
    warnings: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # the entity frames (built when read)
    steps: list = field(default_factory=list)  # the concrete fixes (auditor.model.fixes.Step), for `auditor plan`
    workloads: pd.DataFrame = field(default_factory=pd.DataFrame)      # model.workloads (WL-*)
    assignments: pd.DataFrame = field(default_factory=pd.DataFrame)     # policy assignments (auditor.model.policy)
    hierarchy: "policy.Hierarchy | None" = None                          # management groups (auditor.model.policy)

    def mg_path(self, rid: str) -> str:
        """Management group path (root first) of the subscription or group an id names; '' when unknown."""
        return self.hierarchy.path(rid.lower()) if self.hierarchy is not None and rid else ""

    def view(self, subject: str) -> pd.DataFrame:
        return getattr(self, subject)

    def vault_rids(self) -> dict[str, str]:
        """Lower-cased vault id -> the id as ARM spelled it."""
        if "_vault_rids" not in self.__dict__:
            self.__dict__["_vault_rids"] = dict(zip(self.vaults["id"].tolist(), self.vaults["rid"].astype(str).tolist()))
        return self.__dict__["_vault_rids"]


def build(t: Tables, bad: dict[str, set[str]], present: Iterable[str], errors: list[dict]) -> Model:
    """The views, in dependency order: endpoints (identity, storage pairing) -> FQDNs -> endpoint evidence ->
    vaults (which read the endpoints and FQDNs) -> endpoint deps (which read the vaults' experience) -> subnets,
    VNets (which read the endpoints) -> providers (which read the vaults)."""
    frames = Frames(t)
    present = set(present)
    conns = connections(t, frames)
    backup_conns = backup_connections(conns)

    endpoints = endpoint_base(frames["pes"], backup_conns, bad)
    pairs = storage_pairs(endpoints)
    endpoints = attach_storage(endpoints, pairs)
    nic_pe = nic_endpoint_pairs(t)
    fqdns, evidence = fqdn_view(t, endpoints, frames["zones"], nic_pe)
    add_dns_evidence(endpoints, frames["vnets"], evidence)
    add_links(endpoints, backup_conns, records(t, "zone_groups"), nic_pe)

    v1, v2 = experiences(endpoints, backup_conns, pairs)
    vaults = vault_view(frames, conns, backup_conns, bad, v1, v2, present)
    add_vault_deps(vaults, conns, endpoints, fqdns)
    vaults["iam_missing"], vaults["iam_group_note"] = identity_gaps(vaults, endpoints, fqdns, records(t, "roles"),
                                                                   frames["role_defs"])
    finish_endpoints(endpoints, vaults, v2, present)

    subnets = subnet_view(t, frames["subnets"], endpoints, bad)
    vnets = vnet_view(frames["vnets"], endpoints, bad)
    providers = provider_view(frames, vaults)
    # the enhanced experience, hardening and guardrail columns (RSV-008..014, PE-003..005): model.hardening
    hardening.derive(vaults=vaults, endpoints=endpoints, subnets=subnets, fqdns=fqdns, conns=conns, frames=frames,
                     present=present, errors=errors,
                     audited=(set(frames["subs"]["sub"]) | set(vaults["sub"]) | set(endpoints["sub"])) - {""})
    for view in (vaults, endpoints, subnets, vnets, providers):
        _settle_types(view)
    subs = frames["subs"]
    all_subs = sorted(set(subs["sub"]) | set(vaults["sub"]) | set(endpoints["sub"]) - {""})
    assignments, hierarchy = policy.build(frames, vaults, endpoints, bad, set(all_subs) | set(providers["sub"]))
    m = Model(vaults=vaults, endpoints=endpoints, subnets=subnets, vnets=vnets, providers=providers, fqdns=fqdns,
              present=present, errors=errors, subscriptions=all_subs, tables=frames,
              workloads=build_workloads(t, bad, vaults, endpoints, fqdns), assignments=assignments, hierarchy=hierarchy)
    notes = policy.explained_pes(m)  # DNS-001/004 say "see POL-001 <assignment>" where one explains them
    endpoints["pol_note"] = pd.Series([notes.get(i, "") for i in endpoints["id"].tolist()], index=endpoints.index,
                                      dtype=object)
    fixes.attach(m)   # concrete fixes: a `fixes` column on every view and m.steps for `auditor plan`
    return m


def _settle_types(view: pd.DataFrame) -> None:
    """malformed is a bool; text columns stay text (object) even when an estate leaves them all empty, so rules can
    fillna/.str them."""
    view["malformed"] = view["malformed"].fillna(False).astype(bool)
    for c in TEXT_COLUMNS:
        if c in view:
            view[c] = view[c].astype(object)
