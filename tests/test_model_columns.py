"""The view columns are declared (auditor.model.VIEW_COLUMNS): every column a rule (or the engine, for it) reads is
declared for the rule's subject view, and build makes exactly the declared columns.

What a rule reads is recorded, not parsed: the rules are evaluated by the engine over the demo estate's views wrapped
in a DataFrame subclass that notes every column looked up by name (``v["col"]``, ``v.col``; not ``"col" in v``, a probe)."""
from __future__ import annotations

import pandas as pd
import pytest

from auditor import engine, pipeline
from auditor.model import VIEW_COLUMNS
from auditor.rule import SUBJECT_TYPES
from auditor.rules import ALL


class _Recording(pd.DataFrame):
    """A view that notes the names of the columns read from it (derived frames are plain DataFrames)."""
    _metadata = ["read"]

    @property
    def _constructor(self):
        return pd.DataFrame

    def _note(self, key) -> None:
        keys = key if isinstance(key, list) else [key]
        self.read.update(k for k in keys if isinstance(k, str))

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __getattr__(self, name):
        if not name.startswith("_") and name in self.columns:
            self._note(name)
        return super().__getattr__(name)


def _recorded(view: pd.DataFrame) -> _Recording:
    rec = _Recording(view)
    object.__setattr__(rec, "read", set())
    return rec


@pytest.fixture(scope="module")
def demo():
    return pipeline.load_demo()


def test_every_column_a_rule_reads_is_declared(demo):
    settings = engine.Settings(resolve=True)  # DNS-007 too
    undeclared = {}
    read_by_rule = {}
    for rule in ALL:
        view = _recorded(demo.view(rule.subject))
        setattr(demo, rule.subject, view)
        try:
            engine.evaluate_rule(rule, demo, settings)
        finally:
            setattr(demo, rule.subject, pd.DataFrame(view))
        read_by_rule[rule.id] = view.read
        missing = view.read - set(VIEW_COLUMNS[rule.subject])
        if missing:
            undeclared[rule.id] = sorted(missing)
    assert not undeclared, undeclared
    assert all(read_by_rule.values()), [r for r, cols in read_by_rule.items() if not cols]
    derived = set().union(*read_by_rule.values()) - {"id", "rid", "name", "sub", "rg", "in_input", "malformed", "deps"}
    assert len(derived) >= 40  # the recording sees the rules' evidence columns, not just the identity ones


def test_build_makes_exactly_the_declared_columns(demo):
    assert set(SUBJECT_TYPES) <= set(VIEW_COLUMNS)
    for name, declared in VIEW_COLUMNS.items():
        made = demo.view(name)
        assert len(made), name  # the demo estate has rows in every view
        assert set(made.columns) == set(declared), (name, sorted(set(made.columns) ^ set(declared)))
        assert all(isinstance(meaning, str) and meaning and "\n" not in meaning for meaning in declared.values())
