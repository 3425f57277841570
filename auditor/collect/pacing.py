"""Pacing and retry: requests wait for a token of ARM's read budget (or Resource Graph's quota) here, instead of
bouncing off 429s; what still fails is retried a bounded number of times.

:class:`Pacer` is the run's one view of the budgets (a worker process has its own and sends it back, see
:meth:`Pacer.state` / :meth:`Pacer.merge`); :class:`PacePolicy` puts it into each client's pipeline.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from azure.core.pipeline.policies import RetryPolicy

from . import settings

class BoundedRetry(RetryPolicy):
    """azure-core's retry (429, 408, 5xx, connection errors; Retry-After honoured) with Retry-After capped and
    the total time bounded, so that one answer cannot stall the run for hours."""

    def __init__(self) -> None:
        super().__init__(**{k: v for k, v in settings.RETRY.items() if k != "max_retry_after"})

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, settings.RETRY["max_retry_after"])


def pace_key(url: str) -> str:
    """The budget a request draws on: its subscription, Resource Graph's per-user quota, or the tenant's."""
    from urllib.parse import urlsplit

    segs = [s for s in urlsplit(url).path.lower().split("/") if s]
    if len(segs) > 1 and segs[0] == "subscriptions":
        return segs[1]
    if segs[:2] == ["providers", "microsoft.resourcegraph"]:
        return "graph"
    return "tenant"


def seconds(text: Any) -> float | None:
    """``hh:mm:ss[.fff]`` (Resource Graph's quota reset) or plain seconds."""
    try:
        parts = [float(p) for p in str(text).strip().split(":")]
    except ValueError:
        return None
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return max(0.0, total)


class Pacer:
    """A pipeline policy that makes every attempt wait for a token: ARM's read token bucket per subscription
    (``burst`` tokens, ``rate`` a second; the tenant has its own), and Resource Graph's sliding window of ``quota``
    queries per ``window`` seconds. What the service reports lowers our view (remaining reads, quota headers), and a
    429 empties the budget until its Retry-After has passed, so that the other workers wait too. Counts every
    attempt. Thread-safe; one instance per run, shared by every client's :class:`PacePolicy`."""

    def __init__(self, burst: float, rate: float, quota: int, window: float, margin: float = 0.25):
        self.burst, self.rate = float(burst), float(rate)
        self.quota, self.window, self.margin = int(quota), float(window), float(margin)
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, float]] = {}   # key -> (tokens, at)
        self._blocked: dict[str, float] = {}                # key -> monotonic time before which nothing is sent
        self._sent: deque[float] = deque()                  # Resource Graph queries sent in the window
        self.attempts = self.throttled = 0
        self.waited = 0.0
        self.statuses: Counter = Counter()
        self.by_key: Counter = Counter()

    def _take(self, key: str) -> float:
        """0 when the request may go now (its token taken), else the seconds to wait before asking again."""
        now = time.monotonic()
        blocked = self._blocked.get(key, 0.0)
        if blocked > now:
            return blocked - now
        if key == "graph":
            while self._sent and self._sent[0] <= now - self.window - self.margin:
                self._sent.popleft()
            if len(self._sent) >= self.quota:
                return self._sent[0] + self.window + self.margin - now
            self._sent.append(now)
            return 0.0
        tokens, at = self._tokens.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._tokens[key] = (tokens - 1, now)
            return 0.0
        self._tokens[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def merge(self, other: dict) -> None:
        """Take in what a worker's pacer did and knows (:meth:`state`): its counts, and its view of the budgets."""
        with self._lock:
            self.attempts += other["attempts"]
            self.throttled += other["throttled"]
            self.waited += other["waited"]
            self.statuses.update(other["statuses"])
            self.by_key.update(other["by_key"])
            for key, (tokens, at) in other["tokens"].items():
                mine = self._tokens.get(key)
                if mine is None or tokens < mine[0]:
                    self._tokens[key] = (tokens, at)
            for key, until in other["blocked"].items():
                self._blocked[key] = max(self._blocked.get(key, 0.0), until)

    def state(self) -> dict:
        with self._lock:
            return {"attempts": self.attempts, "throttled": self.throttled, "waited": self.waited,
                    "statuses": dict(self.statuses), "by_key": dict(self.by_key), "tokens": dict(self._tokens),
                    "blocked": dict(self._blocked)}

    def available(self, key: str) -> float:
        """The tokens ``key`` has now (none taken): what the scheduler asks before it hands out a call."""
        now = time.monotonic()
        with self._lock:
            if self._blocked.get(key, 0.0) > now:
                return 0.0
            if key == "graph":
                return float(self.quota - sum(1 for t in self._sent if t > now - self.window - self.margin))
            tokens, at = self._tokens.get(key, (self.burst, now))
            return min(self.burst, tokens + (now - at) * self.rate)

    def _learn(self, key: str, response) -> None:
        headers = response.headers
        now = time.monotonic()
        if response.status_code == 429:
            after = seconds(headers.get("Retry-After") or headers.get("x-ms-user-quota-resets-after") or 1) or 1.0
            until = now + min(after, settings.RETRY["max_retry_after"])
            self._blocked[key] = max(self._blocked.get(key, 0.0), until)
            if key != "graph":
                self._tokens[key] = (0.0, now)
            return
        if key == "graph":
            left, reset = headers.get("x-ms-user-quota-remaining"), headers.get("x-ms-user-quota-resets-after")
            if left is not None and str(left).strip().isdigit() and int(left) <= 0 and reset is not None:
                after = seconds(reset)
                if after:
                    self._blocked[key] = max(self._blocked.get(key, 0.0), now + after + self.margin)
            return
        left = headers.get("x-ms-ratelimit-remaining-subscription-reads") or \
            headers.get("x-ms-ratelimit-remaining-tenant-reads")
        if left is not None and str(left).strip().isdigit():
            tokens, at = self._tokens.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            self._tokens[key] = (min(tokens, float(left)), now)

    def send(self, next_policy, request):
        key = pace_key(request.http_request.url)
        while True:
            with self._lock:
                wait_s = self._take(key)
            if not wait_s:
                break
            self.waited += wait_s
            time.sleep(wait_s)
        response = next_policy.send(request)
        with self._lock:
            self.attempts += 1
            self.by_key[key] += 1
            status = response.http_response.status_code
            self.statuses[status] += 1
            self.throttled += status == 429
            self._learn(key, response.http_response)
        return response


class PacePolicy:
    """The pipeline's view of the run's :class:`Pacer` (a pipeline sets ``next`` on its own policies, so the
    shared state cannot be the policy itself)."""

    def __init__(self, pacer: Pacer):
        self.pacer, self.next = pacer, None

    def send(self, request):
        return self.pacer.send(self.next, request)

