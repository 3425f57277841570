"""Ten nights of a changing estate: defects planted and fixed between runs, with the exact timeline they imply.

Every night is a fresh ``synth.Synth`` with the same seed and the same vaults, so resource ids stay put; only the
defects of some vaults change. The defects used here draw nothing from the random generator, so nothing else moves.
``expected[k]`` is night k's ground truth (the NonCompliant (rule, lower-cased id) pairs the synth planted); the
timeline the history must reproduce (new/resolved counts, ages, time to resolve) is computed from these sets alone.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import synth

NIGHTS = 10
START = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)
# vault -> defects on nights 0..9 (a set per night); vaults not listed are clean every night
SCHEDULE: dict[str, list[set[str]]] = {
    "rsv-a": [{"public"}] * 3 + [set()] * 7,                                   # fixed on night 3
    "rsv-b": [set()] * 2 + [{"pending"}] * 8,                                  # appears night 2, still open
    "rsv-c": [{"crr", "small_subnet"}] * 5 + [{"crr"}] * 2 + [set()] * 3,      # fixed in two steps
    "rsv-d": [{"failed"}] * 10,                                                # open all along
    "rsv-e": [set(), {"missing_role"}, set(), {"missing_role"}, {"missing_role"}, set(), set(), set(),
              {"missing_role"}, set()],                                        # flaps
    "rsv-f": [{"unlinked"}] * 6 + [set()] * 4,
    "rsv-g": [set()] * 9 + [{"public", "no_identity"}],                        # new on the last night
    "rsv-h": [set()] * 10,
}
V2 = {"rsv-v2-a": [{"public"}] * 4 + [set()] * 6, "rsv-v2-b": [set()] * 5 + [{"stale"}] * 5}


def night_time(k: int) -> datetime:
    return START + timedelta(days=k)


def build(k: int) -> synth.Synth:
    s = synth.Synth(seed=4242)
    prod = s.subscription("contoso-prod")
    hub = s.subscription("contoso-hub")
    for name, nights in SCHEDULE.items():
        s.v1_vault(prod, name, set(nights[k]), hub=hub)
    for name, nights in V2.items():
        s.v2_vault(prod, name, hub, set(nights[k]))
    s.finish()
    return s


def write_nights(directory: Path) -> tuple[list[Path], list[set[tuple[str, str]]]]:
    paths, expected = [], []
    for k in range(NIGHTS):
        s = build(k)
        p = directory / f"estate-{k:02d}.json"
        p.write_text(json.dumps(s.objects))
        paths.append(p)
        expected.append(set(s.expected))
    return paths, expected


def timeline(expected: list[set[tuple[str, str]]], severity_of) -> dict:
    """new/resolved per night, open findings' ages after the last night, mean time to resolve per rule and
    severity (days), all from the planted sets."""
    n = len(expected)
    new = [len(expected[0])] + [len(expected[k] - expected[k - 1]) for k in range(1, n)]
    resolved = [0] + [len(expected[k - 1] - expected[k]) for k in range(1, n)]
    ages = {}
    for f in expected[-1]:
        k = n - 1
        while k > 0 and f in expected[k - 1]:
            k -= 1
        ages[f] = (night_time(n - 1) - night_time(k)).total_seconds() / 86400
    durations: dict[str, list[float]] = {}
    by_sev: dict[str, list[float]] = {}
    every = set().union(*expected)
    for f in every:
        k = 0
        while k < n:
            if f in expected[k]:
                a = k
                while k < n and f in expected[k]:
                    k += 1
                if k < n:   # closed on night k
                    d = (night_time(k) - night_time(a)).total_seconds() / 86400
                    durations.setdefault(f[0], []).append(d)
                    by_sev.setdefault(severity_of(f[0]), []).append(d)
            else:
                k += 1
    mean = lambda v: round(sum(v) / len(v), 2)  # noqa: E731
    return {"new": new, "resolved": resolved, "ages": ages,
            "mttr_rule": {r: (len(v), mean(v)) for r, v in durations.items()},
            "mttr_sev": {s: (len(v), mean(v)) for s, v in by_sev.items()}}
