"""Size and time for 100k evaluations (20k NonCompliant): report.html < 10 MB and well under 2 s."""
from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import pytest
from .builders import make_big_findings, make_meta

from auditor.reports.html import write_html
from auditor.reports.junit import write_junit

# generous bound for slow/shared CI runners; the measured figure is printed (typically ~0.5 s on 2 cores)
TIME_LIMIT = float(os.environ.get("AUDITOR_REPORT_TIME_LIMIT", "2.0"))


@pytest.fixture(scope="module")
def big():
    df = make_big_findings(100_000, 20_000)
    return df, make_meta(df)


def _timed(fn, *args) -> float:
    best = float("inf")
    for _ in range(2):  # best of two: the first run also pays for template compilation
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def test_html_100k_size_and_time(tmp_path, big, capsys):
    df, meta = big
    path = tmp_path / "report.html"
    seconds = _timed(write_html, path, df, meta, [])
    size = path.stat().st_size
    listed = int(df["compliance_state"].isin(["NonCompliant", "Error", "Exempt"]).sum())
    with capsys.disabled():
        print(f"\n[report.html] {len(df)} evaluations, {listed} listed rows, "
              f"{df['vault_id'].nunique()} vaults: {size / 1e6:.2f} MB in {seconds:.2f} s")
    assert size < 10_000_000
    assert seconds < TIME_LIMIT
    text = path.read_text(encoding="utf-8")
    assert text.count("\n<tr class=") >= listed


def test_junit_100k_time(tmp_path, big, capsys):
    df, meta = big
    path = tmp_path / "junit.xml"
    seconds = _timed(write_junit, path, df, meta)
    size = path.stat().st_size
    with capsys.disabled():
        print(f"\n[junit.xml] {len(df)} test cases: {size / 1e6:.2f} MB in {seconds:.2f} s")
    assert seconds < TIME_LIMIT
    root = ET.parse(path).getroot()
    assert int(root.get("tests")) == len(df)
    assert int(root.get("failures")) == int((df["compliance_state"] == "NonCompliant").sum())
