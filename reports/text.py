"""Cell values from a findings frame as plain text, for every writer."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd


def as_text(value: Any) -> str:
    """A cell -> str; None, NaN and pandas' missing markers -> ""."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)
