"""A live run from start to end (:func:`collect_estate`): list the subscriptions, choose those asked for, read them
(in worker processes when there are enough), then the custom roles, and return the estate."""
from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone

from azure.core.exceptions import ClientAuthenticationError

from .calls import short
from .catalogue import COLLECTED_TYPES
from .enumerator import Enumerator
from .session import SharedCredential
from .settings import CLOUDS, DEFAULT_CONCURRENCY, CollectError, default_arm_endpoint
from .workers import join, split, worker_count

def _select(listed: list[dict], wanted: list[str] | None) -> tuple[list[dict], list[str]]:
    """The subscriptions to read (by id or display name, case-insensitive) and the ids to GET that no listing
    showed. Raises CollectError for a name that matches nothing."""
    if not wanted:
        return listed, []
    by_key: dict[str, dict] = {}
    for s in listed:
        for k in (s.get("subscriptionId"), s.get("displayName")):
            if isinstance(k, str):
                by_key.setdefault(k.lower(), s)
    chosen, missing = [], []
    for w in wanted:
        s = by_key.get(w.strip().lower())
        if s is not None:
            if s not in chosen:
                chosen.append(s)
        elif _looks_like_guid(w):
            missing.append(w.strip())
        else:
            raise CollectError(f"--subscription: no subscription named or numbered {w!r} among the "
                               f"{len(listed)} this credential can list")
    return chosen, missing


def _looks_like_guid(s: str) -> bool:
    return re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", s.strip()) is not None


def collect_estate(credential, *, subscriptions: list[str] | None, arm_endpoint: str | None, cloud: str = "public",
                   max_concurrency: int = DEFAULT_CONCURRENCY, progress=None, connection_verify=None,
                   source: str = "arm", stats: dict | None = None, workers: int | None = None) -> dict:
    """Read the estate of ``subscriptions`` (ids or display names; None: every subscription the credential can
    list) and return ``{"resources", "errors", "collected_at", "collected_types"}`` (see the module doc).

    ``source="resource-graph"`` takes the inventory from Resource Graph queries (:data:`GRAPH_QUERIES`) and the
    rest from ARM. ``stats``, if given, is filled with what the run did: ``requests`` (attempts sent),
    ``statuses``, ``throttled`` (429s received), ``paced_seconds`` (time requests waited for a token),
    ``chain`` (the longest dependent chain of requests), ``calls``, ``by_budget`` and ``workers``.

    ``workers`` (default: one per core, at most 4, at least 4 subscriptions each) splits the subscriptions among
    forked worker processes, since a request costs the client about as much CPU as it waits for ARM; each
    subscription's budget stays in one process (see :func:`~auditor.collect.workers.split`)."""
    if cloud not in CLOUDS:
        raise CollectError(f"--cloud: unknown cloud {cloud!r} (choose from {', '.join(CLOUDS)})")
    if source not in ("arm", "resource-graph"):
        raise CollectError(f"--source: unknown source {source!r} (choose from arm, resource-graph)")
    arm = arm_endpoint or default_arm_endpoint(cloud)
    collected_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if not isinstance(credential, SharedCredential):
        credential = SharedCredential(credential)   # one token for the parent and every worker it forks
    en = Enumerator(credential, arm, CLOUDS[cloud]["scope"], max_concurrency, progress, connection_verify, source)
    used = 1
    try:
        listed, err = en.list_subscriptions()
        if err:
            err["scope"] = ""
            en.errors.append(err)
            if not subscriptions:
                return _result(en, collected_at)
        listed = [s for s in listed if isinstance(s, dict) and isinstance(s.get("subscriptionId"), str)]
        chosen, missing = _select(listed, subscriptions)
        subs = [s["subscriptionId"] for s in chosen] + missing
        en.in_scope = {s.lower() for s in subs}
        en.rank(subs)
        en.keep_new(chosen)
        used = min(worker_count(workers, len(subs)), en.max_concurrency)
        en.workers = used
        children = split(en, subs, missing, used) if used > 1 else None
        if progress is not None:   # after the fork: a rich bar runs a thread
            progress.start({s["subscriptionId"].lower(): s.get("displayName") or "" for s in chosen}
                           | {m.lower(): "" for m in missing})
        if children is not None:
            join(en, children)
        else:
            en.start(subs, missing)
        en.drain()
        en.role_definitions()
        en.drain()
        return _result(en, collected_at)
    except ClientAuthenticationError as exc:
        raise CollectError(f"cannot authenticate to {arm}: {short(exc, 300)}") from None
    finally:
        if progress is not None:
            progress.close()
        en.session.close()
        if en.spool_dir:
            shutil.rmtree(en.spool_dir, ignore_errors=True)
        if stats is not None:
            stats.update(requests=en.pacer.attempts, statuses=dict(en.pacer.statuses), throttled=en.pacer.throttled,
                         paced_seconds=round(en.pacer.waited, 3), chain=en.chain, calls=en.calls_total,
                         by_budget=dict(en.pacer.by_key), source=source, workers=used)



def _result(en: Enumerator, collected_at: str) -> dict:
    en.errors.sort(key=lambda e: (e["scope"].lower(), e["types"]))
    return {"resources": en.resources.collected(), "errors": en.errors, "collected_at": collected_at,
            "collected_types": COLLECTED_TYPES}
