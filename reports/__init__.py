"""Report writers: one table of formats (:data:`WRITERS`), all fed the same findings frame, metadata and chains."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Callable, Union

import pandas as pd


@dataclass(frozen=True)
class Writer:
    """One output format: the function that writes it (``module:function``, imported when used), its file name in
    ``--out``, its rough cost, and whether it draws the resolution chains."""
    target: str
    file: str
    cost: int       # CPU centiseconds of one cold call at 143k rows x 15 columns (a 100k-object estate)
    chains: bool = False

    def write(self, path: Path, findings: pd.DataFrame, meta: dict, chains: "Chains") -> None:
        module, function = self.target.split(":")
        fn = getattr(import_module(f"{__name__}.{module}"), function)
        if self.chains:
            fn(path, findings, meta, chains() if callable(chains) else chains)
        else:
            fn(path, findings, meta)


# The costs split the formats into two equal halves when writing in parallel; html's includes computing the chains
# (~0.15 s), which happens in the html process when they are passed as a callable.
# Split: html + junit (0.75 s) | json + csv (0.59 s).
WRITERS = {
    "csv": Writer("tabular:write_csv", "findings.csv", 30),
    "html": Writer("html:write_html", "report.html", 53, chains=True),
    "json": Writer("tabular:write_json", "findings.json", 29),
    "junit": Writer("junit:write_junit", "junit.xml", 22),
    "markdown": Writer("markdown:write_markdown", "summary.md", 0),
    "sarif": Writer("sarif:write_sarif", "findings.sarif", 5),      # reports/sarif.py (issue #17)
}
FORMATS = tuple(WRITERS)
FILES = {fmt: w.file for fmt, w in WRITERS.items()}


class ReportError(Exception):
    pass


Chains = Union[list, Callable[[], list]]


def write_reports(out_dir: str | Path, formats: list[str], findings: pd.DataFrame, meta: dict,
                  chains: Chains, parallel: bool | None = None) -> list[Path]:
    """Write every requested format into ``out_dir`` (each file atomically).

    ``chains`` (only report.html uses them) is a list, or a zero-argument callable returning one: called once, and
    only in the process that writes report.html, so that computing them runs beside the other writers.

    Large audits write in two processes (fork: the child shares the findings copy-on-write), since every writer is
    CPU-bound and the machine has more than one core."""
    chains = _once(chains)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if parallel is None:
        parallel = len(findings) >= 20_000 and len(formats) > 1 and hasattr(os, "fork") and (os.cpu_count() or 1) > 1
    if not parallel:
        return [_write(out, fmt, findings, meta, chains) for fmt in formats]
    ordered = sorted(formats, key=lambda f: -WRITERS[f].cost)
    mine, theirs, load = [], [], [0, 0]
    for fmt in ordered:
        side = 0 if load[0] <= load[1] else 1
        (mine if side == 0 else theirs).append(fmt)
        load[side] += WRITERS[fmt].cost
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: write its half, report failure through the exit status
        code = 0
        try:
            for fmt in theirs:
                _write(out, fmt, findings, meta, chains)
        except BaseException as exc:  # noqa: BLE001 - the parent reports it
            sys.stderr.write(f"auditor: error: writing {', '.join(theirs)}: {exc}\n")
            code = 1
        finally:
            os._exit(code)
    try:
        written = [_write(out, fmt, findings, meta, chains) for fmt in mine]
    finally:
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ReportError(f"{out}: writing {', '.join(theirs)} failed")
    return written + [out / FILES[f] for f in theirs]


def _once(chains: Chains) -> Chains:
    """A callable that computes the chains on its first call only; a list as it is."""
    if not callable(chains):
        return chains
    done: list = []

    def get() -> list:
        if not done:
            done.append(chains())
        return done[0]
    return get


def _write(out: Path, fmt: str, findings: pd.DataFrame, meta: dict, chains: Chains) -> Path:
    writer = WRITERS[fmt]
    path = out / writer.file
    writer.write(path, findings, meta, chains)
    return path
