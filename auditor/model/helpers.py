"""Column helpers the view builders share: identity columns from ids, and grouping plain lists into sorted tuples."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .. import arm


def texts_of(ids: pd.Series) -> list[str]:
    return [i if isinstance(i, str) else "" for i in ids.tolist()]


def subscriptions_of(ids: pd.Series) -> pd.Series:
    """The subscription each (lower-cased) id names, '' where none."""
    return pd.Series([arm.sub_and_group(i)[0] for i in texts_of(ids)], index=ids.index, dtype=object)


def identify(df: pd.DataFrame) -> pd.DataFrame:
    """rid (the id as ARM spelled it), name, subscription and resource group of every row, also for rows known
    only by their (lower-cased) id."""
    if "rid" not in df:
        df["rid"] = df["id"]
    if "name" not in df:
        df["name"] = None
    ids = texts_of(df["id"])
    df["rid"] = df["rid"].where(df["rid"].notna(), df["id"])
    df["name"] = df["name"].where(df["name"].notna(), pd.Series([arm.id_parts(i)[2] for i in ids], index=df.index,
                                                                dtype=object))
    sub_rg = [arm.sub_and_group(i) for i in ids]
    df["sub"] = pd.Series([s for s, _ in sub_rg], index=df.index, dtype=object)
    df["rg"] = pd.Series([g for _, g in sub_rg], index=df.index, dtype=object)
    return df


def isna(v) -> bool:
    return v is None or v != v  # None or NaN


def tuples(s: pd.Series) -> pd.Series:
    """The column with every non-tuple (NaN from a failed lookup) as an empty tuple."""
    return s.map(lambda v: v if isinstance(v, tuple) else ())


def objects(values: list, index: pd.Index | None = None) -> pd.Series:
    """A column of Python objects (tuples), object dtype even when empty."""
    return pd.Series(values, index=index, dtype=object)


def grouped(keys: list, values: list) -> dict:
    """key -> sorted tuple of the distinct non-null values: one pass over plain lists."""
    return group_pairs(zip(keys, values))


def group_pairs(pairs: Iterable[tuple]) -> dict:
    """key -> sorted tuple of the distinct non-null values of (key, value) pairs."""
    acc: dict = {}
    for k, v in pairs:
        if v is None or v != v:  # None or NaN
            continue
        bucket = acc.get(k)
        if bucket is None:
            acc[k] = {v}
        else:
            bucket.add(v)
    return {k: tuple(sorted(v)) for k, v in acc.items()}


def agg_tuple(df: pd.DataFrame, key: str, col: str, name: str | None = None) -> pd.Series:
    """Group ``col`` by ``key`` into sorted tuples of distinct non-null values (a Series indexed by the key)."""
    g = grouped(df[key].tolist(), df[col].tolist())
    return pd.Series(list(g.values()), index=pd.Index(list(g.keys()), name=key, dtype=object), dtype=object,
                     name=name or col)


def first_or_none(values: pd.Series) -> pd.Series:
    """The first element of each tuple, None for an empty one."""
    return values.map(lambda v: v[0] if v else None)
