"""--source resource-graph: the inventory of many subscriptions in a few paged Resource Graph queries
(:data:`~auditor.collect.catalogue.GRAPH_QUERIES`), each page's rows turned back into the ARM objects ARM would have
sent and passed through the follow-ups of the ARM collector the query stands in for."""
from __future__ import annotations

import queue
import time
from collections import Counter
from typing import Any, Callable

from azure.core.exceptions import ClientAuthenticationError

from .. import arm
from . import settings
from .calls import error, short, skim
from .catalogue import (COLLECTED_TYPES, COLLECTORS, GRAPH_ACTION, GRAPH_CLIENT, GRAPH_QUERIES, Collector, get,
                        graph_query)
from .schedule import Page, Task

_GRAPH_COLUMNS = ("subscriptionId", "resourceGroup", "tenantId")   # Resource Graph's, not in ARM's objects
_GRAPH_OPTIONAL = ("kind", "managedBy", "sku", "plan", "zones", "extendedLocation", "tags", "identity", "location")
_CANON_TYPES = {t.lower(): t for t in (*COLLECTED_TYPES, arm.PROTECTED_ITEM)}


def from_graph(row: Any) -> Any:
    """A Resource Graph row as the plain ARM object ARM would have sent: ARM's type spelling, without Resource
    Graph's own columns and without the empty ones it prints for every row."""
    if not isinstance(row, dict):
        return row
    obj = {k: v for k, v in row.items() if k not in _GRAPH_COLUMNS
           and not (k in _GRAPH_OPTIONAL and v in (None, ""))}
    t = obj.get("type")
    if isinstance(t, str):
        obj["type"] = _CANON_TYPES.get(t.lower(), t)
    return obj

def run_query(client: Callable[[str, str], Any], task: Task, subs: list[str],
              pages_to: queue.SimpleQueue | None = None) -> tuple[list, dict | None, int]:
    """A query for ``subs``, page after page: ``(rows, error record or None, pages read)``. With ``pages_to``, each
    page's rows go there as they come (as a :class:`~auditor.collect.schedule.Page`, accepted by the scheduling
    thread at once) rather than into the result: memory holds a page, not the query's answer. A failure after some
    pages still makes the query's error records."""
    from azure.core.exceptions import AzureError, DecodeError, HttpResponseError
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    query, rows, pages, box = task.c.kwargs["query"], [], 0, {}

    def hook(response) -> None:
        if response.http_response.status_code == 200:
            doc = box["doc"] = response.context.get("deserialized_data")
            if isinstance(doc, dict):   # the SDK's model of the page: without the rows we already hold
                skim(response.http_response, {k: v for k, v in doc.items() if k != "data"} | {"data": []})

    what, ty = f"Resource Graph query {query!r}", task.c.type
    try:
        graph, token = client(GRAPH_CLIENT, ""), None
        while True:
            options = QueryRequestOptions(top=int(settings.GRAPH["top"]), skip_token=token,
                                          result_format="objectArray")
            graph.resources(QueryRequest(subscriptions=subs, query=query, options=options), raw_response_hook=hook)
            pages += 1
            doc = box.pop("doc", None)
            if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
                raise ValueError("the answer has no 'data' list")
            token = doc.get("$skipToken")
            page = [from_graph(r) for r in doc["data"]]
            del doc
            if pages_to is not None:
                pages_to.put((task, Page(page)))
            else:
                rows.extend(page)
            if not token:
                break
    except ClientAuthenticationError:
        raise
    except DecodeError as exc:
        return [], error("", exc.status_code, f"{what}: malformed answer: {short(exc)}", ty), max(1, pages)
    except HttpResponseError as exc:
        return [], error("", exc.status_code, f"{what}: {short(exc)}", ty), max(1, pages)
    except AzureError as exc:
        return [], error("", None, f"{what}: {type(exc).__name__}: {short(exc)}", ty), max(1, pages)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        msg = f"{what}: malformed answer: {type(exc).__name__}: {short(exc)}"
        return [], error("", None, msg, ty), max(1, pages)
    return rows, None, max(1, pages)

class GraphSource:
    """The Resource Graph part of the :class:`~auditor.collect.enumerator.Enumerator` (a mixin over its state)."""

    def add_graph(self, subs: list[str]) -> None:
        """One query per type of :data:`GRAPH_QUERIES` per batch of up to ``GRAPH["batch"]`` subscriptions."""
        size = max(1, int(settings.GRAPH["batch"]))
        for i in range(0, len(subs), size):
            batch = f"batch-{i // size}"
            self._batches[batch] = subs[i:i + size]
            for sub in self._batches[batch]:
                self._started.setdefault(sub.lower(), time.monotonic())
            for name, (table, arm_type) in GRAPH_QUERIES.items():
                c = Collector(f"graph:{name}", GRAPH_CLIENT, "resources", arm_type, "graph", GRAPH_ACTION,
                              {"query": graph_query(table, arm_type), "as": name})
                key = (c.name, batch)
                self._seen.add(key)
                self._depth[key] = self._cur_depth
                self._queue.put(Task(c, batch, "", ""))
                for sub in self._batches[batch]:
                    self._pending[sub.lower()] += 1
                self.calls_total += 1

    def accept_graph(self, t: Task, rows: list, err: dict | None) -> None:
        """The end of a query (its rows, unless its pages came one by one); a failed query is an error record for
        each subscription of its batch (pages already read stay: the records make what rests on them Error)."""
        self.calls_done += 1
        subs = [s.lower() for s in self._batches[t.subject]]
        if err:
            for sub in subs:
                self.errors.append({**err, "scope": f"/subscriptions/{sub}"})
                self._errs[sub] += 1
        else:
            self.graph_rows(t, rows)
        for sub in subs:
            self._pending[sub] -= 1
            self._report(sub)
            if self._pending[sub] == 0:
                self._release(sub)
        if self.progress is not None:
            self.progress.call_done(self.calls_done, self.calls_total)

    def graph_rows(self, t: Task, rows: list) -> None:
        """Rows of a query, per subscription, through the follow-ups of the ARM collector it stands in for."""
        name = t.c.kwargs["as"]
        by_sub: dict[str, list] = {}
        for r in rows:
            rid = get(r, "id")
            by_sub.setdefault(arm.subscription_of(rid) if isinstance(rid, str) else "", []).append(r)
        for sub, objs in by_sub.items():
            st = Task(COLLECTORS[name], sub, sub, sub)
            if name != "private_dns_zones":   # records and links come from Resource Graph too
                objs = self.follow(st, objs)
            objs = [o for o in objs if self._new(o)]
            self.resources.extend(objs)
            self._counts.setdefault(sub, Counter())[t.c.type] += len(objs)

