"""Fixtures for the report writers (data builders live in builders.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
try:  # source checkout: auditor/__init__.py maps reports/ as auditor.reports
    import auditor.reports  # noqa: F401
except ImportError:  # pragma: no cover - only while the checkout is incomplete
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import auditor

    auditor.__path__.append(str(ROOT))  # type: ignore[attr-defined]

from .builders import make_chains, make_findings, make_meta  # noqa: E402


@pytest.fixture
def findings() -> pd.DataFrame:
    return make_findings()


@pytest.fixture
def meta(findings) -> dict:
    return make_meta(findings)


@pytest.fixture
def chains() -> list[dict]:
    return make_chains()
