"""Audit Azure Backup Recovery Services vaults that use private endpoints."""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# In a wheel, ``rules/`` and ``reports/`` are installed as ``auditor.rules`` and ``auditor.reports``
# (see pyproject's package-dir). In a source checkout they sit beside this package, so let the
# package also search the checkout root for those two sub-packages.
_here = Path(__file__).resolve().parent
if not (_here / "rules").is_dir() and (_here.parent / "rules" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # type: ignore[name-defined]  # noqa: F821
