"""The units of work (:class:`Task`: one collector on one subject) and the queue they wait in (:class:`TaskQueue`),
ordered by the read budget each draws on (:func:`task_key`)."""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Callable

from .. import arm
from .catalogue import Collector


@dataclass(frozen=True)
class Task:
    c: Collector
    subject: str        # subscription id or resource id
    client_sub: str     # subscription the client is bound to
    group: str          # subscription the work is counted under (progress)


class Page:
    """Rows of a Resource Graph query's page, on their way from a worker thread to the scheduling thread."""

    __slots__ = ("rows",)

    def __init__(self, rows: list):
        self.rows = rows


def task_key(t: Task) -> str:
    """The budget (see :func:`~auditor.collect.pacing.pace_key`) a task's requests draw on."""
    if t.c.level == "graph":
        return "graph"
    if t.subject.lower().startswith("/subscriptions/"):
        return arm.subscription_of(t.subject)
    if t.c.level == "subscription" and t.subject:
        return t.subject.lower()
    return "tenant"


class TaskQueue:
    """Calls waiting to run, first in first out per budget, budgets in subscription order (:meth:`rank`, then
    the tenant's and other budgets first). ``take`` is cheap when the first budget has a token, which is the
    common case; a budget that has spent its tokens is skipped until it refills."""

    def __init__(self) -> None:
        self._rank: dict[str, int] = {}
        self._by_key: dict[str, deque] = {}
        self._order: list[tuple[int, str]] = []   # (rank, key) of the budgets with calls waiting, sorted
        self._n = 0

    def rank(self, keys: list[str]) -> None:
        self._rank.update((k.lower(), i) for i, k in enumerate(keys))

    def __len__(self) -> int:
        return self._n

    def put(self, t: Task) -> None:
        key = task_key(t)
        q = self._by_key.get(key)
        if q is None:
            q = self._by_key[key] = deque()
        if not q:
            bisect.insort(self._order, (self._rank.get(key, -1), key))
        q.append(t)
        self._n += 1

    def take(self, ready: Callable[[str], bool]) -> Task | None:
        for i, (_, key) in enumerate(self._order):
            if ready(key):
                q = self._by_key[key]
                t = q.popleft()
                if not q:
                    del self._order[i]
                self._n -= 1
                return t
        return None
