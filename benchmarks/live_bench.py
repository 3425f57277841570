"""Live collection benchmark: the collector against the HTTPS ARM emulator with ARM's latency and read throttling.

Not part of the test suite. Run from the checkout (about 2-3 minutes on 2 cores)::

    .venv/bin/python benchmarks/live_bench.py                      # 40 and 500 subscriptions, ARM and Resource Graph
    .venv/bin/python benchmarks/live_bench.py --subs 40            # one size
    .venv/bin/python benchmarks/live_bench.py --subs 40 --no-replay --latency 0.05 --concurrency 64

Each (size, source) runs in its own child process (so that its memory is measured alone). The child builds a
``tests/synth.large`` estate of ``--vaults-per-sub`` vaults per subscription (plus synth's hub subscription), serves
it from the emulator (in a process of its own) with ``--latency`` seconds per answer, ARM's per-subscription read
token bucket (250 reads, refilled 25/s; 429 + Retry-After when empty) and Resource Graph's quota (15 queries / 5 s),
warms the client up on one subscription (imports, TLS), then collects every subscription and runs the whole audit
(load + every rule) and checks the NonCompliant findings against synth's ground truth.

Figures printed:

* requests (as the emulator saw them), duplicate requests (the same method, path, query and body answered twice
  without a 429), 429s the server sent, 429s that reached the user (error records of the run), errors;
* wall time of the collection, and of the audit after it;
* the sequential baseline: the very same request list replayed one after another against the same emulator
  (measured, ``--replay``, for sizes up to ``--replay-max`` subscriptions); for larger sizes it is *estimated* as
  requests x the mean replayed time per request of the measured size (says so);
* speed-up = sequential / wall;
* the lower bound = max(longest dependent chain of requests x latency, max over subscriptions of the requests
  beyond the bucket's burst / refill rate), printed without and with the CPU work of the run: the CPU seconds
  spent during the collection by the collector (this process and its worker processes) and by the emulator (its
  own process), divided by the cores (the emulator stands in for ARM but shares this machine's cores with the
  collector, so the run cannot end sooner); wall / lower bound for both;
* peak memory growth of the collector during the collection (PSS of this process and its worker processes,
  sampled every 10 ms; the emulator runs in a process of its own) over the memory before it, and the size of the
  collected estate, to show how memory scales with subscriptions.

Targets (issue #5): speed-up >= 15x at 40 subscriptions, wall / lower bound <= 1.5, no duplicates, no 429
reaching the user. ``--heavy N`` puts N more vaults into one subscription, so that its read budget, not the CPU,
bounds the run (the throttling floor).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BURST, RATE = 250, 25


def _pss(pid: str = "self") -> int:
    """Proportional set size: pages shared with forked workers are counted once across the processes."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_NOT_MINE: set[str] = set()   # the emulator's process


def _children() -> list[str]:
    kids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            kids += (task / "children").read_text().split()
        except OSError:
            pass
    return kids


def _memory() -> int:
    """This process and its worker processes, in bytes (PSS)."""
    return _pss() + sum(_pss(k) for k in _children() if k not in _NOT_MINE)


class _Peak(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self._halt = _memory(), threading.Event()

    def run(self):
        while not self._halt.wait(0.01):
            self.peak = max(self.peak, _memory())
        self.cpu = time.thread_time()   # reading /proc costs CPU: not the collector's

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return max(self.peak, _memory())


def _emulator(conn, subs: int, a) -> None:
    """The emulator's own process (so that the collector's CPU and memory are measured alone): serves the estate,
    answers commands from the pipe."""
    from tests import synth
    from tests.emulator import Emulator, ResourceGraph, TokenBucket

    s = synth.large(subs * a.vaults_per_sub, seed=7, subs=subs, heavy=a.heavy)
    emu = Emulator(s.objects, page_size=a.page_size, token="bench-token").start()
    emu.event_time_filter = False
    emu.latency = a.latency
    conn.send((emu.url, emu.ca_file))
    while True:
        cmd = conn.recv()
        if cmd == "fresh":
            emu.throttle = TokenBucket(BURST, RATE)
            ResourceGraph().install(emu)
            emu.reset_log()
            emu.cpu_seconds = 0.0
            conn.send(time.process_time())
        elif cmd == "log":
            conn.send({"requests": list(emu.requests), "handlers_cpu": emu.cpu_seconds, "cpu": time.process_time(),
                       "max_in_flight": emu.max_in_flight})
        else:
            emu.stop()
            conn.send(None)
            return


def child(subs: int, source: str, a) -> dict:
    sys.path.insert(0, str(ROOT))
    import multiprocessing

    from azure.core.credentials import AccessToken, AccessTokenInfo

    from auditor import collect, engine, pipeline
    from auditor.rules import ALL
    from tests import synth

    class Cred:
        def get_token(self, *s, **k):
            return AccessToken("bench-token", int(time.time()) + 3600)

        def get_token_info(self, *s, options=None):
            return AccessTokenInfo("bench-token", int(time.time()) + 3600)

    ctx = multiprocessing.get_context("fork")
    conn, theirs = ctx.Pipe()
    server = ctx.Process(target=_emulator, args=(theirs, subs, a), daemon=True)
    server.start()
    _NOT_MINE.add(str(server.pid))
    url, ca_file = conn.recv()
    s = synth.large(subs * a.vaults_per_sub, seed=7, subs=subs, heavy=a.heavy)   # the truth (same seed)
    sub_ids = sorted(k for k in s.subs)

    def fresh() -> float:
        conn.send("fresh")
        return conn.recv()

    def run(subscriptions, stats=None):
        return collect.collect_estate(Cred(), subscriptions=subscriptions, arm_endpoint=url,
                                      max_concurrency=a.concurrency, connection_verify=ca_file, source=source,
                                      stats=stats, workers=a.workers)

    fresh()
    run(sub_ids[:1])   # warm-up: imports, TLS session, clients
    server_cpu0 = fresh()
    time.sleep(0.2)
    rss0 = _memory()
    peak = _Peak()
    peak.start()
    stats: dict = {}
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, t0 = time.process_time(), time.perf_counter()
    snap = run(None, stats)
    wall, own_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_rss = peak.stop()
    own_cpu -= peak.cpu
    conn.send("log")
    log = conn.recv()
    workers_cpu = (kids.ru_utime - kids0.ru_utime) + (kids.ru_stime - kids0.ru_stime)   # waited-for workers
    client_cpu = own_cpu + workers_cpu
    server_cpu = log["cpu"] - server_cpu0
    t1 = time.perf_counter()
    m = pipeline.load_objects(snap["resources"], snap["errors"], snap["collected_types"])
    f = engine.evaluate(m, ALL, engine.Settings())
    audit_s = time.perf_counter() - t1
    got = {(r, i.lower()) for r, i, st in zip(f.rule_id, f.resource_id, f.compliance_state) if st == "NonCompliant"}

    reqs = log["requests"]
    statuses = Counter(r.get("status") for r in reqs)
    keys = Counter((r["method"], r["path"].lower(), tuple(sorted(r["query"].items())), r.get("body", ""))
                   for r in reqs if r.get("status") != 429)
    duplicates = sum(n - 1 for n in keys.values() if n > 1)
    per_sub = Counter(r["path"].lower().split("/")[2] for r in reqs if r["path"].lower().startswith("/subscriptions/")
                      and r["method"] == "GET")
    bucket_bound = max([max(0, n - BURST) / RATE for n in per_sub.values()] or [0.0])
    out = {"subs": subs, "source": source, "vaults": subs * a.vaults_per_sub, "requests": len(reqs),
           "gets": sum(r["method"] == "GET" for r in reqs), "posts": sum(r["method"] == "POST" for r in reqs),
           "duplicates": duplicates, "server_429": statuses.get(429, 0), "client_throttled": stats.get("throttled"),
           "user_429": sum(1 for e in snap["errors"] if e.get("status") == 429), "errors": len(snap["errors"]),
           "wall": wall, "audit_s": audit_s, "client_cpu": client_cpu, "server_cpu": server_cpu,
           "workers_cpu": workers_cpu, "own_cpu": own_cpu, "handlers_cpu": log["handlers_cpu"],
           "cpu_per_req_ms": 1000 * client_cpu / max(1, len(reqs)), "chain": stats.get("chain"),
           "paced_s": stats.get("paced_seconds"), "bucket_bound": bucket_bound,
           "max_per_sub": max(per_sub.values() or [0]), "rss_before_mb": rss0 / 2**20,
           "collect_rss_growth_mb": (peak_rss - rss0) / 2**20, "objects": len(snap["resources"]),
           "estate_mb": snap["resources"].size / 2**20, "workers": stats.get("workers"),
           "truth_ok": got == s.expected, "max_in_flight": log["max_in_flight"]}
    if a.replay and subs <= a.replay_max:
        import requests

        fresh()
        sess = requests.Session()
        sess.trust_env = False
        headers = {"Authorization": "Bearer bench-token"}
        t0 = time.perf_counter()
        for r in reqs:
            if r.get("status") == 429:
                continue
            if r["method"] == "GET":
                resp = sess.get(url + r["path"], params=r["query"], headers=headers, verify=ca_file, timeout=60)
            else:
                resp = sess.post(url + r["path"], params=r["query"], data=r["body"].encode(),
                                 headers={**headers, "Content-Type": "application/json"}, verify=ca_file,
                                 timeout=60)
            resp.content
        out["sequential"] = time.perf_counter() - t0
        out["sequential_kind"] = "measured"
        conn.send("log")
        out["replay_429"] = sum(1 for r in conn.recv()["requests"] if r.get("status") == 429)
    conn.send("stop")
    conn.recv()
    return out


def report(rows: list[dict], a) -> None:
    measured = {r["subs"]: r for r in rows if r.get("sequential_kind") == "measured" and r["source"] == "arm"}
    per_req = None
    if measured:
        ref = measured[max(measured)]
        per_req = ref["sequential"] / max(1, ref["requests"] - ref["server_429"])
    print(f"\nlatency {a.latency * 1000:.0f} ms/answer, ARM bucket {BURST} burst + {RATE}/s per subscription, "
          f"Resource Graph 15 queries/5 s, page size {a.page_size}, concurrency {a.concurrency}, "
          f"{a.vaults_per_sub} vaults/subscription, cores {a.cores}\n")
    for r in rows:
        if "sequential" not in r and per_req is not None and r["source"] == "arm":
            r["sequential"] = per_req * (r["requests"] - r["server_429"])
            r["sequential_kind"] = f"estimated ({per_req * 1000:.1f} ms/request from the {max(measured)}-sub replay)"
        lat = a.latency
        lb0 = max(r["chain"] * lat, r["bucket_bound"])
        cpu_bound = (r["client_cpu"] + r["server_cpu"]) / a.cores
        lb1 = max(lb0, cpu_bound)
        heavy = f" (+{a.heavy} in one subscription)" if a.heavy else ""
        print(f"== {r['subs']} subscriptions (+1 hub), {r['vaults']} vaults{heavy}, source {r['source']}")
        print(f"   requests               {r['requests']} ({r['gets']} GET, {r['posts']} POST); largest subscription "
              f"{r['max_per_sub']}")
        print(f"   duplicate requests     {r['duplicates']}")
        print(f"   429s sent by server    {r['server_429']} (client saw {r['client_throttled']}; paced "
              f"{r['paced_s']} s in total)")
        print(f"   429s reaching the user {r['user_429']}   errors {r['errors']}   findings == truth: {r['truth_ok']}")
        print(f"   wall (collection)      {r['wall']:.2f} s   (then the audit: {r['audit_s']:.2f} s; peak in flight "
              f"{r['max_in_flight']})")
        if "sequential" in r:
            print(f"   sequential baseline    {r['sequential']:.2f} s  [{r['sequential_kind']}]")
            print(f"   speed-up               {r['sequential'] / r['wall']:.1f}x")
        print(f"   collector processes    {r['workers']}")
        print(f"   CPU                    collector {r['client_cpu']:.2f} s = {r['cpu_per_req_ms']:.2f} ms/request "
              f"(workers {r['workers_cpu']:.2f} s + parent {r['own_cpu']:.2f} s); emulator {r['server_cpu']:.2f} s")
        print(f"   lower bound w/o CPU    {lb0:.2f} s = max(chain {r['chain']} x {lat * 1000:.0f} ms, bucket "
              f"{r['bucket_bound']:.2f} s)   wall/bound {r['wall'] / max(lb0, 1e-9):.2f}")
        print(f"   lower bound with CPU   {lb1:.2f} s = max(that, CPU (collector + emulator) / {a.cores} cores = "
              f"{cpu_bound:.2f} s)   wall/bound {r['wall'] / max(lb1, 1e-9):.2f}")
        print(f"   memory                 PSS before {r['rss_before_mb']:.0f} MB (collector and the truth), growth while "
              f"collecting {r['collect_rss_growth_mb']:.1f} MB; collected {r['objects']} objects "
              f"({r['estate_mb']:.1f} MB as JSON)")
    by = {(r["subs"], r["source"]): r for r in rows}
    for subs in sorted({r["subs"] for r in rows}):
        arm, rg = by.get((subs, "arm")), by.get((subs, "resource-graph"))
        if arm and rg:
            print(f"\n{subs} subscriptions: ARM {arm['requests']} requests in {arm['wall']:.2f} s; Resource Graph "
                  f"{rg['requests']} requests ({rg['posts']} queries) in {rg['wall']:.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subs", type=int, action="append", help="subscriptions (repeatable; default 40 and 500)")
    p.add_argument("--sources", default="arm,resource-graph")
    p.add_argument("--vaults-per-sub", type=int, default=2)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--heavy", type=int, default=0,
                   help="this many more vaults in one subscription, so that its read budget bounds the run")
    p.add_argument("--workers", type=int, default=None, help="collector processes (default: the collector's choice)")
    p.add_argument("--no-replay", dest="replay", action="store_false")
    p.add_argument("--replay-max", type=int, default=100, help="replay sequentially up to this many subscriptions")
    p.add_argument("--child", nargs=2, metavar=("SUBS", "SOURCE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(int(a.child[0]), a.child[1], a)))
        return
    rows = []
    for subs in a.subs or [40, 500]:
        for source in a.sources.split(","):
            args = [sys.executable, __file__, "--child", str(subs), source, "--vaults-per-sub", str(a.vaults_per_sub),
                    "--latency", str(a.latency), "--concurrency", str(a.concurrency), "--page-size", str(a.page_size),
                    *(["--workers", str(a.workers)] if a.workers else []), "--heavy", str(a.heavy),
                    "--replay-max", str(a.replay_max), *([] if a.replay else ["--no-replay"])]
            print(f"running {subs} subscriptions, {source} ...", file=sys.stderr, flush=True)
            out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                sys.exit(f"child failed:\n{out.stderr}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    report(rows, a)


if __name__ == "__main__":
    main()
