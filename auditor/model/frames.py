"""The entity frames: the extractors' records as pandas frames (or plain column lists, which ``build`` reads where
that is much cheaper), one record per id for the entities an input can hold twice."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..extract import COLUMNS as TABLE_COLUMNS, Tables

COLUMNS = {name: list(cols) for name, cols in TABLE_COLUMNS.items()}

# Entities seen more than once (inline and standalone, or in two files) are one: the first record of each id counts.
UNIQUE = {"vaults": "id", "pes": "id", "vnets": "id", "subnets": "id", "zones": "id", "records": "id", "links": "id",
          "roles": "id", "subs": "sub", "nics": "nic_id",
          "assignments": "id", "set_defs": "id", "policy_defs": "id", "mg_nodes": "id"}


def frame(t: Tables, name: str) -> pd.DataFrame:
    """One entity's records as a frame, built from column lists (much cheaper than from row dicts or tuples)."""
    if not getattr(t, name):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[name]})
    return pd.DataFrame(t.columns(name))


def records(t: Tables, name: str) -> dict[str, list]:
    """One entity's records as plain column lists, one record per id for the entities in ``UNIQUE``."""
    cols = t.columns(name)
    return first_of_each(cols, (UNIQUE[name],)) if name in UNIQUE else cols


def first_of_each(cols: dict[str, list], key: tuple[str, ...]) -> dict[str, list]:
    """The rows of the first occurrence of each value of the ``key`` columns (``drop_duplicates(key)``)."""
    seen: set = set()
    keys = cols[key[0]] if len(key) == 1 else zip(*(cols[k] for k in key))
    keep = [i for i, k in enumerate(keys) if not (k in seen or seen.add(k))]
    if len(keep) == len(next(iter(cols.values()))):
        return cols
    return {c: [v[i] for i in keep] for c, v in cols.items()}


class Frames(Mapping):
    """The entity frames (``Model.tables``), each built from the extractors' records when first read, one row per
    id for the entities in ``UNIQUE``."""

    def __init__(self, t: Tables) -> None:
        self._t = t
        self._built: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._built:
            if name not in COLUMNS:
                raise KeyError(name)
            df = frame(self._t, name)
            self._built[name] = df.drop_duplicates(UNIQUE[name], keep="first") if name in UNIQUE else df
        return self._built[name]

    def __iter__(self):
        return iter(COLUMNS)

    def __len__(self) -> int:
        return len(COLUMNS)


def connections(t: Tables, frames: Frames) -> pd.DataFrame:
    """The private endpoint connections. One seen from both sides stays two rows (vault side, PE side); the same one
    twice is one."""
    if not t.conns:
        return frames["conns"]
    return pd.DataFrame(first_of_each(t.columns("conns"), ("vault_id", "pe_id", "side", "groups")))
