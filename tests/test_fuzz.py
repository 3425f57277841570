"""Property-based fuzzing of ingest and engine (hypothesis).

Valid ARM objects (the rule-case base estate) are mutated: values replaced by None, numbers, booleans, lists,
objects, odd unicode (NUL, RTL marks, 10k-character strings), keys deleted, non-objects and id-less objects added,
ids and types re-cased, objects duplicated. Whatever happens, the run never crashes, every row carries a valid state,
and an unreadable object always makes the run incomplete (it is reported, with the file and its id, and the
evaluations that needed it are Error). Re-casing and duplication change nothing at all.
"""
from __future__ import annotations

import copy
import random

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import engine, pipeline
from auditor.rule import STATES
from auditor.rules import ALL

from .rules.base import base_estate

BASE, _ = base_estate()
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ODD = st.sampled_from(["", "\x00", "\u202e\u202dtxe.exe", "x" * 10_000, "😀" * 50, "<script>alert(1)</script>",
                       "=1+2", "/subscriptions/", "/", "\ud7ff", "NaN"])
LEAF = st.one_of(st.none(), st.integers(min_value=-2**63, max_value=2**63), st.floats(allow_nan=True),
                 st.booleans(), st.text(max_size=12), ODD, st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _paths(obj, prefix=()):
    """Every (container, key) position inside an object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield obj, k
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield obj, i
            yield from _paths(v, prefix + (i,))


def _run(objects):
    m = pipeline.load_objects(objects, where="fuzz.json")
    f = engine.evaluate(m, ALL, engine.Settings())
    return m, f


def _key(f):
    return sorted(zip(f["rule_id"], f["resource_id"].str.lower(), f["compliance_state"]))


def _check(m, f):
    assert set(f["compliance_state"]) <= set(STATES)
    assert not f["message"].isna().any() and (f["message"].str.len() > 0).all()
    if m.warnings:  # something was unreadable: reported with the file, and the run is incomplete
        assert m.errors
        assert all("fuzz.json" in w for w in m.warnings)


BASE_KEY = _key(_run(copy.deepcopy(BASE))[1])


@pytest.mark.parametrize("family", ["values", "deletions", "extras", "mixed"])
@SETTINGS
@given(data=st.data())
def test_mutated_objects_never_crash(family, data):
    objects = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        obj = data.draw(st.sampled_from(objects), label="object")
        spots = list(_paths(obj))
        if not spots:
            continue
        container, key = data.draw(st.sampled_from(spots), label="where")
        delete = family == "deletions" or (family == "mixed" and data.draw(st.booleans(), label="delete"))
        if family == "extras":
            break
        if isinstance(container, dict) and delete:
            del container[key]
        else:
            container[key] = data.draw(LEAF, label="value")
    extra = [] if family in ("values", "deletions") else data.draw(st.lists(st.one_of(LEAF, st.fixed_dictionaries({"type": st.sampled_from(
        ["Microsoft.Network/privateEndpoints", "microsoft.recoveryservices/VAULTS", "x/y"])})), max_size=2),
        label="extra items")
    objects.extend(extra)
    m, f = _run(objects)
    _check(m, f)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=3))
def test_recasing_and_duplicates_change_nothing(seed: int, copies: int):
    rnd = random.Random(seed)
    objects = copy.deepcopy(BASE)
    for o in objects:
        if "id" in o and rnd.random() < 0.5:
            o["id"] = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in o["id"])
        if "type" in o and rnd.random() < 0.5:
            o["type"] = o["type"].lower() if rnd.random() < 0.5 else o["type"].upper()
    dups = [copy.deepcopy(rnd.choice(objects)) for _ in range(copies)]
    for d in dups:
        if "id" in d:
            d["id"] = d["id"].swapcase()
    objects = dups + objects if rnd.random() < 0.5 else objects + dups
    m, f = _run(objects)
    _check(m, f)
    assert not m.warnings
    assert _key(f) == BASE_KEY
