"""Worker processes: a run's subscriptions split among forked workers (a request costs the client about as much CPU
as it waits for ARM), each with an enumerator of its own (:meth:`Enumerator.for_worker`) that sends progress and
then its :meth:`~Enumerator.snapshot` through a pipe; the parent relays the progress and merges the results."""
from __future__ import annotations

import gc
import os
import sys
import tempfile
from collections import Counter
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from .calls import short
from .enumerator import Enumerator
from .progress import PipeProgress
from .settings import CollectError


def worker_count(workers: int | None, subs: int) -> int:
    """Worker processes for a run (fork only)."""
    if not hasattr(os, "fork"):
        return 1
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 4, subs // 4))
    return max(1, min(int(workers), subs))


def split(en: Enumerator, subs: list[str], missing: list[str], n: int) -> list[tuple[int, Any]]:
    """Fork ``n`` workers, each reading every call of its share of the subscriptions (their budgets with them).

    A worker leaves what belongs to other subscriptions (references into them, custom roles) to the parent, which
    reads it after the merge, knowing every call the workers made: no request is made twice. The workers send
    progress and then their result through a pipe."""
    from multiprocessing.connection import Connection

    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    en.spool_dir = tempfile.mkdtemp(prefix="auditor-collect-")   # private (0700); removed when the run ends
    gc.freeze()   # the cyclic collector would touch (and so copy) every inherited object in each worker
    for part in (subs[i::n] for i in range(n)):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:   # the worker: never returns
            code = 1
            try:
                os.close(r)
                code = _worker(en, Connection(w, readable=False), part, [m for m in missing if m in part],
                               en.spool_dir)
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, Connection(r, writable=False)))
    gc.unfreeze()
    return children


def _worker(parent: Enumerator, conn, part: list[str], missing: list[str], spool_dir: str) -> int:
    try:
        en = parent.for_worker(part, PipeProgress(conn), os.path.join(spool_dir, f"worker-{os.getpid()}"))
        en.start(part, missing)
        en.drain()
        conn.send(("done", en.snapshot()))
        return 0
    except ClientAuthenticationError as exc:
        conn.send(("auth", short(exc, 300)))
        return 0
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        conn.send(("fail", f"{type(exc).__name__}: {exc}"))
        return 1


def join(en: Enumerator, children: list[tuple[int, Any]]) -> None:
    """Relay the workers' progress, merge their results into ``en`` and queue what they left to the parent."""
    from multiprocessing.connection import wait as wait_any

    live = {conn: pid for pid, conn in children}
    calls: dict[Any, tuple[int, int]] = {}
    results, problem = [], None
    try:
        while live:
            for conn in wait_any(list(live)):
                try:
                    msg = conn.recv()
                except EOFError:
                    os.waitpid(live.pop(conn), 0)
                    continue
                if msg[0] == "call":
                    calls[conn] = msg[1:]
                    if en.progress is not None:
                        en.progress.call_done(sum(c[0] for c in calls.values()), sum(c[1] for c in calls.values()))
                elif msg[0] == "sub":
                    en.reported.add(msg[1])
                    if en.progress is not None:
                        en.progress.subscription_done(msg[1], Counter(msg[2]), msg[3], msg[4])
                elif msg[0] == "done":
                    results.append(msg[1])
                else:
                    problem = problem or msg
    finally:
        for conn, pid in live.items():   # interrupted: take the workers down with us
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
    if problem is not None and problem[0] == "auth":
        raise ClientAuthenticationError(message=problem[1])
    if problem is not None or len(results) != len(children):
        why = problem[1] if problem is not None else "a worker process ended without a result"
        raise CollectError(f"collection failed: {why}")
    en.merge(results)
