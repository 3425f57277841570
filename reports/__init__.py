"""Report writers: one function per format, all fed the same findings frame, metadata and chains."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMATS = ("csv", "html", "json", "junit", "markdown")
FILES = {"csv": "findings.csv", "html": "report.html", "json": "findings.json", "junit": "junit.xml",
         "markdown": "summary.md"}


def write_reports(out_dir: str | Path, formats: list[str], findings: pd.DataFrame, meta: dict,
                  chains: list[dict]) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out / FILES[fmt]
        if fmt == "json":
            from .tabular import write_json
            write_json(path, findings, meta)
        elif fmt == "csv":
            from .tabular import write_csv
            write_csv(path, findings, meta)
        elif fmt == "html":
            from .html import write_html
            write_html(path, findings, meta, chains)
        elif fmt == "junit":
            from .junit import write_junit
            write_junit(path, findings, meta)
        elif fmt == "markdown":
            from .markdown import write_markdown
            write_markdown(path, findings, meta)
        written.append(path)
    return written
