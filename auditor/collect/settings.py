"""The collector's tunables (clouds, retry, pacing, Resource Graph quota, concurrency) and its one error.

The dicts are read when a run starts, so a test or a benchmark may change an entry (``monkeypatch.setitem``).
"""
from __future__ import annotations

import os

from ..ingest import InputError

CLOUDS: dict[str, dict] = {
    "public": {"arm_endpoint": "https://management.azure.com", "authority_host": "login.microsoftonline.com",
               "scope": "https://management.azure.com/.default"},
    "usgov": {"arm_endpoint": "https://management.usgovcloudapi.net", "authority_host": "login.microsoftonline.us",
              "scope": "https://management.usgovcloudapi.net/.default"},
    "china": {"arm_endpoint": "https://management.chinacloudapi.cn", "authority_host": "login.chinacloudapi.cn",
              "scope": "https://management.chinacloudapi.cn/.default"},
}

# Retry budget for 429 / 408 / 5xx / connection errors. Retry-After is honoured, capped at max_retry_after;
# ``timeout`` bounds the total time one call may spend retrying.
RETRY = {"retry_total": 6, "retry_status": 6, "retry_backoff_factor": 0.5, "retry_backoff_max": 30, "timeout": 300,
         "max_retry_after": 60}
READ_TIMEOUT = 120
# Client-side pacing, so that requests wait here instead of bouncing off 429s. ARM throttles reads with a token
# bucket per subscription (and one per tenant for tenant-level reads): 250 reads, refilled at 25 a second, per
# principal and region. We mirror that bucket; ``x-ms-ratelimit-remaining-subscription-reads`` lowers ours when
# other clients share the budget, and a 429 that still comes empties it until its Retry-After has passed.
# A little under ARM's own budget (250 reads, 25/s): the two clocks never agree exactly, and a request that is due on
# the client's clock can still be early on ARM's.
PACING = {"burst": 240.0, "rate": 24.0}
# Resource Graph (--source resource-graph): 15 queries per 5-second window per user, which the answers' headers
# ``x-ms-user-quota-remaining`` / ``x-ms-user-quota-resets-after`` report; up to 1000 subscriptions per query and
# 1000 rows per page. ``margin`` pads the client's window for the time a request takes to reach the service.
GRAPH = {"quota": 15, "window": 5.0, "batch": 1000, "top": 1000, "margin": 0.25}
DEFAULT_CONCURRENCY = 64
EVENT_WINDOW_DAYS = 90
EVENT_FIELDS = ("id", "eventDataId", "operationId", "correlationId", "operationName", "status", "subStatus",
                "eventTimestamp", "submissionTimestamp", "subscriptionId", "tenantId", "resourceId",
                "resourceGroupName", "resourceProviderName", "caller", "level", "category", "eventName")


class CollectError(InputError):
    """A live run that cannot start: a --subscription that matches nothing, an unknown cloud, no credential that
    works. One line, exit 2 (an :class:`~auditor.ingest.InputError`, which the CLI already reports that way)."""


def default_arm_endpoint(cloud: str = "public") -> str:
    return os.environ.get("AZURE_ARM_ENDPOINT") or CLOUDS[cloud]["arm_endpoint"]
