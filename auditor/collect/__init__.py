"""Live collection: read an estate through the Azure SDK and return it as plain ARM JSON.

The result has the shape ``auditor collect`` writes and ``audit --input`` reads back::

    {"resources": [ARM objects exactly as ARM sent them], "errors": [{"scope", "status", "message", "types"}],
     "collected_at": ISO 8601, "collected_types": [every ARM type the collector reads]}

What is read is declared as data (:mod:`.catalogue`: each collector's SDK client, call, ARM type, RBAC action and
follow-up reads) and run by one enumerator (:mod:`.enumerator`) on a bounded thread pool, paced to ARM's read
budgets (:mod:`.pacing`), in forked worker processes when there are enough subscriptions (:mod:`.workers`).
Objects are taken from the raw response bodies (a ``raw_response_hook``), never re-serialised from SDK models, so
they keep ARM's camelCase shape and every field, and wait in a spool file (:mod:`.spool`) until the run ends.

The tool only reads: every client is built without azure-mgmt-core's provider auto-registration policy
(:mod:`.session`). A listing that fails (403, 404 on a subscription's collection, retries exhausted, a malformed body)
becomes an error record, never an empty list; a GET by id, or a list of a resource's children, that answers 404
means the resource is gone (:mod:`.calls`).

Modules, in the order a run uses them: settings (tunables), catalogue (what to read), session (credentials,
transport, pipeline), pacing (budgets, retry), schedule (tasks and their queue), calls (one SDK call), graph
(--source resource-graph), enumerator, workers, spool, progress, run (:func:`collect_estate`).
"""
from __future__ import annotations

from .catalogue import (COLLECTED_TYPES, COLLECTORS, GRAPH_ACTION, GRAPH_ARM, GRAPH_QUERIES, Collector, Read, Then,
                        graph_query)
from .pacing import BoundedRetry, Pacer, pace_key, seconds
from .progress import Progress
from .run import collect_estate
from .session import SharedCredential, build_credential
from .settings import (CLOUDS, DEFAULT_CONCURRENCY, EVENT_FIELDS, EVENT_WINDOW_DAYS, GRAPH, PACING, RETRY,
                       CollectError, default_arm_endpoint)
from .spool import Collected, Spool

__all__ = ["CLOUDS", "COLLECTED_TYPES", "COLLECTORS", "DEFAULT_CONCURRENCY", "EVENT_FIELDS", "EVENT_WINDOW_DAYS",
           "GRAPH", "GRAPH_ACTION", "GRAPH_ARM", "GRAPH_QUERIES", "PACING", "RETRY", "BoundedRetry", "Collected",
           "CollectError", "Collector", "Pacer", "Progress", "Read", "SharedCredential", "Spool", "Then",
           "build_credential", "collect_estate", "default_arm_endpoint", "graph_query", "pace_key", "seconds"]
