"""History benchmark: what ``--history`` adds to a large audit, and how the file grows.

    .venv/bin/python benchmarks/history_bench.py                 # 4800 vaults: about 140k evaluations
    .venv/bin/python benchmarks/history_bench.py --vaults 500

It builds a seeded synthetic estate (tests/synth.py), audits it once in-process (load + evaluate, not timed), then
times what ``audit --history`` adds to a run: recording it (``history.record_run``: one transaction) plus reading
the trend that report.html draws (``history.report_meta``), for

1. the first run into an empty file,
2. the same findings again (nothing changed): the growth of the file is what a quiet night costs,
3. a night with some changes (50 findings fixed, 50 new),

and prints the file size after each (main file after a WAL checkpoint). Targets (issue #17): at most 2 s added to
a 140k-evaluation audit, at most a few KB of growth for a run in which nothing changed.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
import synth  # noqa: E402

from auditor import engine, history, pipeline  # noqa: E402
from auditor.rules import ALL  # noqa: E402


def size(db: Path) -> int:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = con.execute("PRAGMA page_count").fetchone()[0] * con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    return n


def one(db: Path, findings, when: datetime) -> tuple[float, float, history.Recorded]:
    summary = engine.summarize(findings)
    t0 = time.perf_counter()
    rec = history.record_run(db, findings, summary, scope="all", started=when, tool_version="bench")
    t1 = time.perf_counter()
    history.report_meta(db, rec, baseline_file=None)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, rec


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--vaults", type=int, default=4800)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        est = Path(tmp) / "estate.json"
        s = synth.large(a.vaults, a.seed)
        est.write_text(json.dumps(s.objects))
        t = time.perf_counter()
        m = pipeline.load([str(est)])
        findings = engine.evaluate(m, ALL, engine.Settings())
        print(f"estate: {len(s.objects)} objects, {len(findings)} evaluations, "
              f"{int((findings['compliance_state'] == 'NonCompliant').sum())} NonCompliant "
              f"(load + evaluate {time.perf_counter() - t:.1f}s, not part of the figures)")
        db = Path(tmp) / "history.sqlite"
        start = datetime(2026, 11, 1, 2, tzinfo=timezone.utc)
        rows = []
        rec_s, trend_s, _ = one(db, findings, start)
        rows.append(("first run (empty file)", rec_s, trend_s, size(db), 0))
        before = size(db)
        rec_s, trend_s, rec = one(db, findings, start + timedelta(days=1))
        after = size(db)
        rows.append(("same findings again", rec_s, trend_s, after, after - before))
        assert rec.new == 0 and not rec.resolved
        # 50 fixed, 50 new
        changed = findings.copy()
        nc = changed.index[changed["compliance_state"] == "NonCompliant"][:50]
        ok = changed.index[changed["compliance_state"] == "Compliant"][:50]
        changed.loc[nc, "compliance_state"] = "Compliant"
        changed.loc[ok, "compliance_state"] = "NonCompliant"
        before = after
        rec_s, trend_s, rec = one(db, changed, start + timedelta(days=2))
        after = size(db)
        rows.append(("50 fixed, 50 new", rec_s, trend_s, after, after - before))
        assert rec.new == 50 and len(rec.resolved) == 50
        before = after
        for k in range(10):   # ten more quiet nights
            one(db, changed, start + timedelta(days=3 + k))
        after = size(db)
        print(f"\n{'run':<26}{'record s':>10}{'trend s':>10}{'added s':>10}{'file KB':>10}{'growth KB':>11}")
        for name, r, tr, sz, g in rows:
            print(f"{name:<26}{r:>10.3f}{tr:>10.3f}{r + tr:>10.3f}{sz / 1024:>10.1f}{g / 1024:>11.1f}")
        print(f"ten more quiet runs: {(after - before) / 1024:.1f} KB in all ({(after - before) / 10240:.2f} KB a run)")
        print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
