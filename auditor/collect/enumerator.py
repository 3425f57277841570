"""The enumerator: runs the collectors' calls on a bounded thread pool, in subscription order and within each
subscription's read budget, and follows what each answer leads to (the catalogue's declared follow-ups).

A worker process runs an enumerator of its own (:meth:`Enumerator.for_worker`) and hands its result back to the
parent's through :meth:`Enumerator.snapshot` and :meth:`Enumerator.merge`.
"""
from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import arm
from . import settings
from .calls import run_call
from .catalogue import COLLECTORS, GRAPH_CLIENT, SUBS, Read, get, subscription_reads
from .graph import GraphSource, run_query
from .pacing import Pacer
from .schedule import Page, Task, TaskQueue, task_key
from .session import SharedCredential, policies, transport
from .spool import Spool

_LOG = logging.getLogger("auditor.collect")


class Enumerator(GraphSource):
    def __init__(self, credential, arm_url: str, scope: str, max_concurrency: int, progress, connection_verify,
                 source: str = "arm"):
        self.credential = credential if isinstance(credential, SharedCredential) else SharedCredential(credential)
        self.arm, self.scope = arm_url.rstrip("/"), scope
        self.max_concurrency = max(1, int(max_concurrency))
        self.progress = progress
        self.connection_verify = connection_verify
        self.transport, self.session = transport(self.max_concurrency, connection_verify, self.arm)
        pacing, graph = settings.PACING, settings.GRAPH
        self.pacer = Pacer(pacing["burst"], pacing["rate"], graph["quota"], graph["window"], graph["margin"])
        self.source = source
        self._batches: dict[str, list[str]] = {}        # Resource Graph batch -> its subscriptions
        self._depth: dict[tuple[str, str], int] = {}    # task -> requests on the dependent chain before it
        self._pages: dict[tuple[str, str], int] = {}    # task -> requests it made (pages)
        self._cur_depth = 0
        self.chain = 0                                  # the longest dependent chain of requests
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.resources = Spool()                        # the objects kept, as JSON text in a temporary file
        self.errors: list[dict] = []
        self.in_scope: set[str] = set()
        self._seen: set[tuple[str, str]] = set()
        self._ids: set[str] = set()
        self._queue = TaskQueue()
        self._pending: Counter = Counter()              # progress group -> calls queued or running
        self._open: Counter = Counter()                 # client subscription -> ARM calls queued or running
        self._counts: dict[str, Counter] = {}
        self._errs: Counter = Counter()
        self._started: dict[str, float] = {}
        self._principals: set[str] = set()
        self._assignments: list[tuple[str, str]] = []   # (principalId, roleDefinitionId)
        self.calls_done = self.calls_total = 0
        self.part: set[str] | None = None               # a worker's own subscriptions (see workers.split)
        self.reported: set[str] = set()                 # subscriptions whose progress line is out
        self.workers = 1
        self.spool_dir: str | None = None
        self.deferred: list[tuple] = []                 # a worker's calls outside its part, for the parent
        self._deferred_keys: set[tuple[str, str]] = set()

    # -- clients and calls ----------------------------------------------------------------------------------------
    def client(self, path: str, sub: str):
        tenant_level = path in (SUBS, GRAPH_CLIENT)
        key = (path, "" if tenant_level else sub)
        cl = self._clients.get(key)
        if cl is not None:
            return cl
        module, cls = path.split(":")
        klass = getattr(importlib.import_module(module), cls)  # outside the lock: imports take a while
        with self._lock:
            cl = self._clients.get(key)
            if cl is None:
                kw = dict(base_url=self.arm, credential_scopes=[self.scope], transport=self.transport,
                          policies=policies(self.credential, self.scope, self.pacer))
                cl = klass(self.credential, **kw) if tenant_level else \
                    klass(self.credential, subscription_id=sub, **kw)
                self._clients[key] = cl
            return cl

    def run(self, task: Task, pages_to: queue.SimpleQueue | None = None) -> tuple[list, dict | None]:
        if task.c.level == "graph":
            objs, err, pages = run_query(self.client, task, self._batches[task.subject], pages_to)
        else:
            objs, err, pages = run_call(self.client, task)
        self._pages[(task.c.name, task.subject.lower())] = pages
        return objs, err

    def list_subscriptions(self) -> tuple[list, dict | None]:
        """The tenant's subscription list: the first call of a run, and the first link of every chain."""
        listed, err = self.run(Task(COLLECTORS["subscriptions"], "", "", ""))
        self._cur_depth = self.chain = max(1, self._pages.pop(("subscriptions", ""), 1))
        return listed, err

    def rank(self, subs: list[str]) -> None:
        """Read the subscriptions in this order."""
        self._queue.rank(subs)

    def keep_new(self, objs) -> None:
        """Keep the objects not collected yet."""
        self.resources.extend(o for o in objs if self._new(o))

    def start(self, subs: list[str], missing: list[str]) -> None:
        """Queue the first reads of ``subs`` (and a GET of each subscription no listing showed)."""
        for sub in missing:
            self.add("subscription", sub, sub.lower())
        if self.source == "resource-graph":
            self.add_graph(subs)
        for sub in subs:
            for name in subscription_reads(self.source):
                self.add(name, sub, sub.lower())

    # -- scheduling -----------------------------------------------------------------------------------------------
    def add(self, name: str, subject: str, group: str, client_sub: str | None = None) -> None:
        key = (name, subject.lower())
        if key in self._seen:
            return
        sub = client_sub or (subject if COLLECTORS[name].level == "subscription" else arm.segments(subject)[0])
        task = Task(COLLECTORS[name], subject, sub, group)
        if self.part is not None and (name == "role_definition" or task_key(task) not in self.part):
            # a worker reads its own subscriptions only: the rest is read once, by the parent, after the merge
            if key not in self._deferred_keys:
                self._deferred_keys.add(key)
                self.deferred.append((name, subject, group, client_sub, self._cur_depth))
            return
        self._seen.add(key)
        self._depth[key] = self._cur_depth
        self._queue.put(task)
        self._pending[group] += 1
        self._open[task.client_sub.lower()] += 1
        self.calls_total += 1

    def drain(self) -> None:
        """Run the queue to the end: at most ``max_concurrency`` calls in flight, the next call always the first
        one (in subscription order) whose budget has a token for it, so that the subscriptions are finished one
        after another (their clients freed) and a subscription that has spent its budget does not hold workers
        that others could use."""
        done: queue.SimpleQueue = queue.SimpleQueue()
        inflight: Counter = Counter()   # budget key -> calls submitted and not yet accepted
        running = 0
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="collect") as pool:
            while self._queue or running:
                while self._queue and running < self.max_concurrency:
                    t = self._queue.take(lambda key: self.pacer.available(key) - inflight[key] >= 1)
                    if t is None:
                        if running:
                            break
                        t = self._queue.take(lambda key: True)   # every budget is spent: the pacer makes it wait
                    inflight[task_key(t)] += 1
                    running += 1
                    self._started.setdefault(t.group, time.monotonic())
                    pool.submit(self._run_to, done, t)
                try:
                    t, result = done.get(timeout=0.05 if self._queue else None)
                except queue.Empty:
                    continue   # a budget may have refilled
                while True:
                    if isinstance(result, Page):   # a part of a call's answer, the call goes on
                        self._cur_depth = self._depth.get((t.c.name, t.subject.lower()), 0) + 1
                        self.graph_rows(t, result.rows)
                    else:
                        running -= 1
                        inflight[task_key(t)] -= 1
                        if isinstance(result, BaseException):
                            raise result   # from the worker thread (a refused token, a bug): the run stops
                        self.accept(t, *result)
                    try:
                        t, result = done.get_nowait()
                    except queue.Empty:
                        break

    def _run_to(self, done: queue.SimpleQueue, t: Task) -> None:
        try:
            result = self.run(t, done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the scheduling thread
            result = exc
        done.put((t, result))

    def accept(self, t: Task, objs: list, err: dict | None) -> None:
        key = (t.c.name, t.subject.lower())
        self._cur_depth = self._depth.get(key, 0) + max(1, self._pages.pop(key, 1))
        self.chain = max(self.chain, self._cur_depth)
        if t.c.level == "graph":
            return self.accept_graph(t, objs, err)
        self.calls_done += 1
        counts = self._counts.setdefault(t.group, Counter())
        if err:
            self.errors.append(err)
            self._errs[t.group] += 1
            _LOG.debug("%s %s: error %s", t.c.name, t.subject, err["status"])
        else:
            objs = [o for o in self.follow(t, objs) if self._new(o)]
            self.resources.extend(objs)
            counts[t.c.type] += len(objs)
            _LOG.debug("%s %s: %d object(s)", t.c.name, t.subject, len(objs))
        self._pending[t.group] -= 1
        self._open[t.client_sub.lower()] -= 1
        if self._open[t.client_sub.lower()] == 0:   # its clients are not needed until a follow-up needs them
            self._release(t.client_sub.lower())
        if self.progress is not None:
            self.progress.call_done(self.calls_done, self.calls_total)
            self._report(t.group)

    def _new(self, obj: Any) -> bool:
        """False for an object already collected (e.g. a management-group role assignment that every
        subscription's listing shows)."""
        rid = get(obj, "id")
        return self._new_id(rid.lower() if isinstance(rid, str) else None)

    def _new_id(self, rid: str | None) -> bool:
        if rid is None:
            return True
        if rid in self._ids:
            return False
        self._ids.add(rid)
        return True

    def out_of_scope(self, rid: Any) -> bool:
        sub = arm.subscription_of(rid) if isinstance(rid, str) else ""
        return bool(sub) and sub not in self.in_scope

    # -- follow-ups -----------------------------------------------------------------------------------------------
    def follow(self, t: Task, objs: list) -> list:
        """Queue the reads the collector's declared follow-ups (``then``) find in its objects; returns the objects
        to keep (its ``keep``)."""
        c = t.c
        for obj in objs if c.then else ():
            for then in c.then:
                if then.source is not None and then.source != self.source:
                    continue
                for rid in then.ids(obj):
                    if then.scope != "any" and self.out_of_scope(rid) != (then.scope == "out"):
                        continue
                    for read in then.reads:
                        self._read(read, rid, t)
        return c.keep(objs) if c.keep else objs

    def _read(self, read: Read, found: Any, t: Task) -> None:
        if read.subject == "principal":   # a vault's identity: custom roles as soon as both sides are known
            self._principals.add(found)
            for p, rd in self._assignments:
                if p == found:
                    self._role_definition(read.collector, p, rd)
        elif read.subject == "assignment":
            self._assignments.append(found)
            self._role_definition(read.collector, *found)
        elif read.subject == "listed":
            self.add(read.collector, t.subject, t.group)
        elif read.subject == "subscription":
            sub = arm.subscription_of(found)
            self.add(read.collector, sub, t.group, client_sub=sub)
        else:
            self.add(read.collector, found, t.group)

    def role_definitions(self) -> None:
        """Custom roles referenced by assignments of vault principals (built-in GUIDs are known)."""
        for principal, rd in self._assignments:
            self._role_definition("role_definition", principal, rd)

    def _role_definition(self, name: str, principal: str, rd: str) -> None:
        if principal in self._principals and arm.role_guid(rd) not in arm.BUILTIN_ROLES:
            anysub = min(self.in_scope) if self.in_scope else ""
            self.add(name, rd, "", client_sub=arm.subscription_of(rd) or anysub)

    # -- worker processes: the one interface between a worker's enumerator and the parent's ----------------------
    def for_worker(self, part: list[str], progress, spool_path: str) -> "Enumerator":
        """The enumerator of a worker process that reads ``part`` of this run's subscriptions: its own connections,
        the run's concurrency and Resource Graph quota shared out, what is collected so far known."""
        en = Enumerator(self.credential, self.arm, self.scope, max(1, self.max_concurrency // self.workers),
                        progress, self.connection_verify, self.source)
        en.in_scope, en.part = self.in_scope, {p.lower() for p in part}
        en.pacer.quota = max(1, self.pacer.quota // self.workers)   # Resource Graph's quota is the user's
        en._ids = set(self._ids)
        en._cur_depth = en.chain = self.chain
        en.resources = Spool(spool_path)
        en.rank(part)
        return en

    def snapshot(self) -> dict:
        """What a worker's enumerator did and found, for the parent's :meth:`merge` (sent through a pipe)."""
        self.resources.flush()
        return {"resources": (self.resources.path, self.resources.index), "errors": self.errors, "seen": self._seen,
                "deferred": self.deferred, "principals": self._principals, "assignments": self._assignments,
                "chain": self.chain, "calls_total": self.calls_total, "calls_done": self.calls_done,
                "counts": self._counts, "errs": self._errs, "pacer": self.pacer.state()}

    def merge(self, results: list[dict]) -> None:
        """Take in the workers' :meth:`snapshot` results and queue what they left to the parent (knowing every call
        the workers made, so that no request is made twice)."""
        for r in results:
            self._seen |= r["seen"]
        for r in results:
            self.resources.take(*r["resources"], keep=self._new_id)
            self.errors.extend(r["errors"])
            self._principals |= r["principals"]
            self._assignments.extend(r["assignments"])
            self.chain = max(self.chain, r["chain"])
            self.calls_total += r["calls_total"]
            self.calls_done += r["calls_done"]
            self.pacer.merge(r["pacer"])
            self._errs.update(r["errs"])
            for g, c in r["counts"].items():
                self._counts.setdefault(g, Counter()).update(c)
        for r in results:
            for name, subject, group, client_sub, depth in r["deferred"]:
                self._cur_depth = depth
                self.add(name, subject, group, client_sub)

    # -- housekeeping ---------------------------------------------------------------------------------------------
    def _release(self, sub: str) -> None:
        """Drop a finished subscription's SDK clients (a management client weighs about a megabyte: keeping one per
        subscription would make memory grow with their number). A later call re-creates what it needs."""
        with self._lock:
            for key in [k for k in self._clients if k[1].lower() == sub and sub]:
                del self._clients[key]

    def _report(self, sub: str) -> None:
        if self.progress is not None and self._pending[sub] == 0 and sub in self.in_scope and \
                sub not in self.reported:
            self.reported.add(sub)
            self.progress.subscription_done(sub, self._counts.get(sub, Counter()), self._errs[sub],
                                            time.monotonic() - self._started.get(sub, time.monotonic()))
