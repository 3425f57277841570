"""Offline scale benchmark: ``auditor audit --input`` against the cost of just reading the JSON.

    .venv/bin/python benchmarks/offline_bench.py                 # 1k, 10k and 100k objects
    .venv/bin/python benchmarks/offline_bench.py --vaults 4800   # one size (about 21 objects per vault)

For each size it writes a seeded synthetic estate (tests/synth.py: v1 and v2 vaults, storage endpoints, NICs,
VNets, zones, records, links, roles, with about 15% of the vaults carrying one planted defect), then measures, each in
a fresh process so that peaks are clean: ``json.load`` of the file (wall time and peak RSS), and the full CLI audit
with all four report formats (wall time and peak RSS, the report writer's forked half included). It prints the
ratios and checks the findings against the planted truth (missed and extra NonCompliant findings must both be 0).
Targets (issue #5): audit time <= 3x json.load time, audit peak memory <= 2x json.load peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import synth  # noqa: E402

JSON_LOAD = "import json,sys; json.load(open(sys.argv[1]))"


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB (the process and the children it waited for), exit code."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    return wall, usage.ru_maxrss / 1024, p.returncode


def best(cmd: list[str], repeat: int) -> tuple[float, float, int]:
    runs = [measure(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def run(vaults: int, repeat: int, work: Path) -> dict:
    s = synth.large(vaults, seed=7, subs=max(2, vaults // 200))
    path = work / f"estate-{vaults}.json"
    path.write_text(json.dumps(s.objects))
    py = sys.executable
    j_wall, j_rss, _ = best([py, "-c", JSON_LOAD, str(path)], repeat)
    out = work / f"out-{vaults}"
    a_wall, a_rss, code = best([py, "-m", "auditor", "audit", "--input", str(path), "--out", str(out), "-q",
                                "--fail-on", "never"], repeat)
    rows = json.loads((out / "findings.json").read_text())["findings"]
    nc = {(r["rule_id"], r["resource_id"].lower()) for r in rows if r["compliance_state"] == "NonCompliant"}
    return {"objects": len(s.objects), "MB": path.stat().st_size / 1e6, "evaluations": len(rows),
            "json_s": j_wall, "audit_s": a_wall, "time_ratio": a_wall / j_wall,
            "json_MiB": j_rss, "audit_MiB": a_rss, "mem_ratio": a_rss / j_rss, "exit": code,
            "missed": len(s.expected - nc), "extra": len(nc - s.expected),
            "errors": sum(r["compliance_state"] == "Error" for r in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vaults", type=int, nargs="*", default=[48, 480, 4800])
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is kept")
    a = ap.parse_args()
    print(f"{'objects':>8} {'MB':>6} {'evals':>7} {'json.load':>9} {'audit':>7} {'time x':>6} "
          f"{'json MiB':>8} {'audit MiB':>9} {'mem x':>5} {'missed':>6} {'extra':>5} {'errors':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for v in a.vaults:
            r = run(v, a.repeat, Path(tmp))
            print(f"{r['objects']:>8} {r['MB']:>6.1f} {r['evaluations']:>7} {r['json_s']:>8.2f}s {r['audit_s']:>6.2f}s "
                  f"{r['time_ratio']:>6.2f} {r['json_MiB']:>8.0f} {r['audit_MiB']:>9.0f} {r['mem_ratio']:>5.2f} "
                  f"{r['missed']:>6} {r['extra']:>5} {r['errors']:>6}", flush=True)


if __name__ == "__main__":
    main()
