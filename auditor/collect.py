"""Live collection: read an estate through the Azure SDK and return it as plain ARM JSON.

The result has the shape ``auditor collect`` writes and ``audit --input`` reads back::

    {"resources": [ARM objects exactly as ARM sent them], "errors": [{"scope", "status", "message", "types"}],
     "collected_at": ISO 8601, "collected_types": [every ARM type the collector reads]}

What is read is declared as data (:data:`COLLECTORS`: SDK client, call, keyword arguments, ARM type, scope level)
and run by one enumerator (:class:`_Enumerator`) on a bounded thread pool. Each finished call may queue follow-up
calls (a vault's storage config, a backup PE's zone groups, a zone's A records and links, references into
subscriptions that were not listed, fetched by id). Objects are taken from the raw response bodies (a
``raw_response_hook``), never re-serialised from SDK models, so they keep ARM's camelCase shape and every field.

The tool only reads: every client is built with an explicit policy list that leaves out azure-mgmt-core's
``ARMAutoResourceProviderRegistrationPolicy`` (which would POST a provider registration on a 409) and its
``NetworkTraceLoggingPolicy`` (which logs unredacted headers when ``logging_enable`` is set). A listing that fails
(403, 404 on a subscription's collection, retries exhausted, a malformed body) becomes an error record, never an
empty list; a GET by id, or a list of a resource's children, that answers 404 means the resource is gone.
"""
from __future__ import annotations

import bisect
import gc
import importlib
import json
import logging
import queue
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import RetryPolicy

from .ingest import InputError

_LOG = logging.getLogger(__name__)

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
REGISTER_ACTION = "microsoft.recoveryservices/register/action"
BACKUP_GROUPS = {"azurebackup", "azurebackup_secondary"}
# Role definitions everybody knows: no need to read them.
BUILTIN_ROLES = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                 "4d97b98b-1d4f-4787-a291-c67834d212e7", "b12aa53e-6015-4669-85d0-8515ebb3ae7f"}
EVENT_FIELDS = ("id", "eventDataId", "operationId", "correlationId", "operationName", "status", "subStatus",
                "eventTimestamp", "submissionTimestamp", "subscriptionId", "tenantId", "resourceId",
                "resourceGroupName", "resourceProviderName", "caller", "level", "category", "eventName")


class CollectError(InputError):
    """A live run that cannot start: a --subscription that matches nothing, an unknown cloud, no credential that
    works. One line, exit 2 (an :class:`~auditor.ingest.InputError`, which the CLI already reports that way)."""


# ---------------------------------------------------------------------------------------------------------------
# What to read, as data
# ---------------------------------------------------------------------------------------------------------------

T_SUB, T_PROVIDER = "Microsoft.Resources/subscriptions", "Microsoft.Resources/providers"
T_VAULT = "Microsoft.RecoveryServices/vaults"
T_STORAGE = "Microsoft.RecoveryServices/vaults/backupstorageconfig"
T_ITEM = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
T_PE, T_ZG = "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
T_NIC, T_VNET = "Microsoft.Network/networkInterfaces", "Microsoft.Network/virtualNetworks"
T_ZONE, T_A = "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones/A"
T_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
T_RA, T_RD = "Microsoft.Authorization/roleAssignments", "Microsoft.Authorization/roleDefinitions"
T_EVENT = "Microsoft.Insights/eventtypes/values"

SUBS = "azure.mgmt.resource.subscriptions:SubscriptionClient"
RES = "azure.mgmt.resource.resources:ResourceManagementClient"
RSV = "azure.mgmt.recoveryservices:RecoveryServicesClient"
BKP = "azure.mgmt.recoveryservicesbackup:RecoveryServicesBackupClient"
NET = "azure.mgmt.network:NetworkManagementClient"
DNS = "azure.mgmt.privatedns:PrivateDnsManagementClient"
AUTH = "azure.mgmt.authorization:AuthorizationManagementClient"
MON = "azure.mgmt.monitor:MonitorManagementClient"

RG = "resource_group_name"


@dataclass(frozen=True)
class Collector:
    """One SDK call. ``level`` says what its subject is: ``tenant``, ``subscription`` (a subscription id) or a
    resource id (``vault``, ``pe``, ``zone``, ``id``): ``names`` are the keyword arguments that take the subject's
    resource group and resource names, in id order; ``id_kw`` the one that takes the whole id."""
    name: str
    client: str
    call: str
    type: str
    level: str
    kwargs: dict | Callable[[], dict] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    id_kw: str | None = None
    single: bool = False        # a GET: 404 means gone (so does a 404 on a child list; a subscription list: error)
    first_page: bool = False    # existence is all the rules need


def _event_kwargs() -> dict:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=EVENT_WINDOW_DAYS)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"filter": f"eventTimestamp ge '{start.strftime(fmt)}' and eventTimestamp le '{now.strftime(fmt)}' "
                      "and resourceProvider eq 'Microsoft.RecoveryServices'",
            "select": ",".join(EVENT_FIELDS)}


COLLECTORS: dict[str, Collector] = {c.name: c for c in (
    Collector("subscriptions", SUBS, "subscriptions.list", T_SUB, "tenant"),
    Collector("subscription", SUBS, "subscriptions.get", T_SUB, "subscription", id_kw="subscription_id",
              single=True),
    Collector("provider", RES, "providers.get", T_PROVIDER, "subscription",
              {"resource_provider_namespace": "Microsoft.RecoveryServices"}, single=True),
    Collector("vaults", RSV, "vaults.list_by_subscription_id", T_VAULT, "subscription"),
    Collector("private_endpoints", NET, "private_endpoints.list_by_subscription", T_PE, "subscription"),
    Collector("network_interfaces", NET, "network_interfaces.list_all", T_NIC, "subscription"),
    Collector("virtual_networks", NET, "virtual_networks.list_all", T_VNET, "subscription"),
    Collector("private_dns_zones", DNS, "private_zones.list", T_ZONE, "subscription"),
    Collector("role_assignments", AUTH, "role_assignments.list_for_subscription", T_RA, "subscription"),
    Collector("activity_log", MON, "activity_logs.list", T_EVENT, "subscription", _event_kwargs),
    Collector("storage_config", BKP, "backup_resource_storage_configs_non_crr.get", T_STORAGE, "vault",
              names=(RG, "vault_name"), single=True),
    Collector("protected_items", BKP, "backup_protected_items.list", T_ITEM, "vault",
              names=(RG, "vault_name"), first_page=True),
    Collector("zone_groups", NET, "private_dns_zone_groups.list", T_ZG, "pe", names=(RG, "private_endpoint_name")),
    Collector("a_records", DNS, "record_sets.list_by_type", T_A, "zone", {"record_type": "A"},
              names=(RG, "private_zone_name")),
    Collector("vnet_links", DNS, "virtual_network_links.list", T_LINK, "zone", names=(RG, "private_zone_name")),
    # references into subscriptions that were not listed, fetched by id
    Collector("private_endpoint", NET, "private_endpoints.get", T_PE, "id", names=(RG, "private_endpoint_name"),
              single=True),
    Collector("network_interface", NET, "network_interfaces.get", T_NIC, "id", names=(RG, "network_interface_name"),
              single=True),
    Collector("virtual_network", NET, "virtual_networks.get", T_VNET, "id", names=(RG, "virtual_network_name"),
              single=True),
    Collector("private_dns_zone", DNS, "private_zones.get", T_ZONE, "id", names=(RG, "private_zone_name"),
              single=True),
    Collector("role_definition", AUTH, "role_definitions.get_by_id", T_RD, "id", id_kw="role_id", single=True),
)}

COLLECTED_TYPES = sorted({c.type for c in COLLECTORS.values()})

# --source resource-graph: the inventory of many subscriptions in a few paged Resource Graph queries. Each query
# stands in for the ARM collector named by its key (whose follow-up calls it then queues: zone groups, storage
# config, activity log, references out of scope); what Resource Graph does not hold (zone groups, backup storage
# config, providers, the activity log; vaults, whose systemData.createdAt SUB-002 needs and Resource Graph rows
# lack; role assignments, whose management-group inheritance ARM's list shows) is still read through ARM.
GRAPH_CLIENT = "azure.mgmt.resourcegraph:ResourceGraphClient"
GRAPH_QUERIES: dict[str, tuple[str, str]] = {
    "private_endpoints": ("resources", T_PE),
    "network_interfaces": ("resources", T_NIC),
    "virtual_networks": ("resources", T_VNET),
    "private_dns_zones": ("resources", T_ZONE),
    "vnet_links": ("resources", T_LINK),
    "a_records": ("dnsresources", T_A),
    "protected_items": ("recoveryservicesresources", T_ITEM),
}
GRAPH_ARM = ("provider", "vaults", "role_assignments")   # subscription-level reads that stay on ARM
_GRAPH_COLUMNS = ("subscriptionId", "resourceGroup", "tenantId")   # Resource Graph's, not in ARM's objects
_GRAPH_OPTIONAL = ("kind", "managedBy", "sku", "plan", "zones", "extendedLocation", "tags", "identity", "location")
_CANON_TYPES = {t.lower(): t for t in (*COLLECTED_TYPES, T_ITEM)}


def graph_query(table: str, arm_type: str) -> str:
    """The KQL the tool sends for one type (the emulator recognises exactly these)."""
    return f"{table} | where type =~ '{arm_type.lower()}' | order by id asc"


def _from_graph(row: Any) -> Any:
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

# The Azure RBAC action each collector's call needs (the custom role least-privilege-role.json is generated from
# this: python -m auditor.privileges). "resource_graph" is the POST of --source resource-graph queries.
ACTIONS: dict[str, str] = {
    "subscriptions": "Microsoft.Resources/subscriptions/read",
    "subscription": "Microsoft.Resources/subscriptions/read",
    "provider": "Microsoft.Resources/subscriptions/providers/read",
    "vaults": "Microsoft.RecoveryServices/vaults/read",
    "private_endpoints": "Microsoft.Network/privateEndpoints/read",
    "network_interfaces": "Microsoft.Network/networkInterfaces/read",
    "virtual_networks": "Microsoft.Network/virtualNetworks/read",
    "private_dns_zones": "Microsoft.Network/privateDnsZones/read",
    "role_assignments": "Microsoft.Authorization/roleAssignments/read",
    "activity_log": "Microsoft.Insights/eventtypes/values/read",
    "storage_config": "Microsoft.RecoveryServices/vaults/backupstorageconfig/read",
    "protected_items": "Microsoft.RecoveryServices/vaults/backupProtectedItems/read",
    "zone_groups": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read",
    "a_records": "Microsoft.Network/privateDnsZones/A/read",
    "vnet_links": "Microsoft.Network/privateDnsZones/virtualNetworkLinks/read",
    "private_endpoint": "Microsoft.Network/privateEndpoints/read",
    "network_interface": "Microsoft.Network/networkInterfaces/read",
    "virtual_network": "Microsoft.Network/virtualNetworks/read",
    "private_dns_zone": "Microsoft.Network/privateDnsZones/read",
    "role_definition": "Microsoft.Authorization/roleDefinitions/read",
    "resource_graph": "Microsoft.ResourceGraph/resources/read",
}


# ---------------------------------------------------------------------------------------------------------------
# Credentials and clients
# ---------------------------------------------------------------------------------------------------------------

def default_arm_endpoint(cloud: str = "public") -> str:
    return os.environ.get("AZURE_ARM_ENDPOINT") or CLOUDS[cloud]["arm_endpoint"]


def build_credential(*, tenant: str | None, cloud: str):
    """``DefaultAzureCredential`` for ``cloud`` (``AZURE_TOKEN_CREDENTIALS`` narrows the chain, as azure-identity
    documents), wrapped so that every client shares one token cache and, with ``tenant``, asks for that tenant."""
    from azure.identity import DefaultAzureCredential

    if cloud not in CLOUDS:
        raise CollectError(f"--cloud: unknown cloud {cloud!r} (choose from {', '.join(CLOUDS)})")
    kw: dict[str, Any] = {"authority": CLOUDS[cloud]["authority_host"]}
    if tenant:
        kw.update(additionally_allowed_tenants=[tenant], interactive_browser_tenant_id=tenant,
                  workload_identity_tenant_id=tenant, shared_cache_tenant_id=tenant,
                  visual_studio_code_tenant_id=tenant, broker_tenant_id=tenant)
    return SharedCredential(DefaultAzureCredential(**kw), tenant)


class SharedCredential:
    """A token credential that caches tokens per scope for all clients (one ``az`` call, not one per client) and
    passes ``tenant`` on every request. Thread-safe."""

    def __init__(self, inner, tenant: str | None = None):
        self.inner, self.tenant = inner, tenant
        self._lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}

    def _fetch(self, scopes: tuple, tenant: str | None, info: bool, options: dict | None = None):
        tenant = tenant or self.tenant
        key = (scopes, tenant, info)
        with self._lock:
            tok = self._cache.get(key)
            if tok is None or tok.expires_on - 300 < time.time():
                if info and not hasattr(self.inner, "get_token_info"):   # a credential of the older protocol
                    from azure.core.credentials import AccessTokenInfo
                    t = self.inner.get_token(*scopes, **({"tenant_id": tenant} if tenant else {}))
                    tok = AccessTokenInfo(t.token, t.expires_on)
                elif info:
                    opts = dict(options or {})
                    if tenant:
                        opts["tenant_id"] = tenant
                    tok = self.inner.get_token_info(*scopes, options=opts or None)
                else:
                    tok = self.inner.get_token(*scopes, **({"tenant_id": tenant} if tenant else {}))
                self._cache[key] = tok
            return tok

    def get_token(self, *scopes: str, claims=None, tenant_id=None, **kwargs):
        if claims:
            return self.inner.get_token(*scopes, claims=claims, tenant_id=tenant_id or self.tenant, **kwargs)
        return self._fetch(scopes, tenant_id, False)

    def get_token_info(self, *scopes: str, options=None):
        if options and options.get("claims"):
            return self.inner.get_token_info(*scopes, options=options)
        return self._fetch(scopes, (options or {}).get("tenant_id"), True, options)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close:
            close()


def _policies(credential, scope: str, pacer: _Pacer | None = None) -> list:
    """The pipeline every client gets: azure-mgmt-core's defaults minus provider auto-registration and the
    unredacted network trace; the raw-response hook sits outside the retries so it sees final answers only; the
    pacer sits inside them, so that every attempt waits for a token."""
    from azure.core.pipeline import policies as p
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    from . import __version__

    return [p.RequestIdPolicy(), p.HeadersPolicy(), p.UserAgentPolicy(sdk_moniker=f"auditor/{__version__}"),
            p.ProxyPolicy(), p.CustomHookPolicy(), p.ContentDecodePolicy(), p.RedirectPolicy(), _BoundedRetry(),
            *([_PacePolicy(pacer)] if pacer is not None else []),
            ARMChallengeAuthenticationPolicy(credential, scope), p.DistributedTracingPolicy(),
            p.SensitiveHeaderCleanupPolicy(), ARMHttpLoggingPolicy()]


class _BoundedRetry(RetryPolicy):
    """azure-core's retry (429, 408, 5xx, connection errors; Retry-After honoured) with Retry-After capped and
    the total time bounded, so that one answer cannot stall the run for hours."""

    def __init__(self) -> None:
        super().__init__(**{k: v for k, v in RETRY.items() if k != "max_retry_after"})

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, RETRY["max_retry_after"])


def _pace_key(url: str) -> str:
    """The budget a request draws on: its subscription, Resource Graph's per-user quota, or the tenant's."""
    from urllib.parse import urlsplit

    segs = [s for s in urlsplit(url).path.lower().split("/") if s]
    if len(segs) > 1 and segs[0] == "subscriptions":
        return segs[1]
    if segs[:2] == ["providers", "microsoft.resourcegraph"]:
        return "graph"
    return "tenant"


def _seconds(text: Any) -> float | None:
    """``hh:mm:ss[.fff]`` (Resource Graph's quota reset) or plain seconds."""
    try:
        parts = [float(p) for p in str(text).strip().split(":")]
    except ValueError:
        return None
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return max(0.0, total)


class _Pacer:
    """A pipeline policy that makes every attempt wait for a token: ARM's read token bucket per subscription
    (``burst`` tokens, ``rate`` a second; the tenant has its own), and Resource Graph's sliding window of ``quota``
    queries per ``window`` seconds. What the service reports lowers our view (remaining reads, quota headers), and a
    429 empties the budget until its Retry-After has passed, so that the other workers wait too. Counts every
    attempt. Thread-safe; one instance per run, shared by every client's :class:`_PacePolicy`."""

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
            after = _seconds(headers.get("Retry-After") or headers.get("x-ms-user-quota-resets-after") or 1) or 1.0
            self._blocked[key] = max(self._blocked.get(key, 0.0), now + min(after, RETRY["max_retry_after"]))
            if key != "graph":
                self._tokens[key] = (0.0, now)
            return
        if key == "graph":
            left, reset = headers.get("x-ms-user-quota-remaining"), headers.get("x-ms-user-quota-resets-after")
            if left is not None and str(left).strip().isdigit() and int(left) <= 0 and reset is not None:
                after = _seconds(reset)
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
        key = _pace_key(request.http_request.url)
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


class _PacePolicy:
    """The pipeline's view of the run's :class:`_Pacer` (a pipeline sets ``next`` on its own policies, so the
    shared state cannot be the policy itself)."""

    def __init__(self, pacer: _Pacer):
        self.pacer, self.next = pacer, None

    def send(self, request):
        return self.pacer.send(self.next, request)


def _transport(max_concurrency: int, connection_verify, arm: str | None = None):
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    if arm:
        # requests reads the proxy variables and stats ~/.netrc on *every* request (a fifth of the client's CPU
        # per request): read the environment once, for the one endpoint this session talks to.
        session.proxies.update(requests.utils.get_environ_proxies(arm))
        session.trust_env = False
        if connection_verify is None:
            connection_verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max_concurrency + 2,
                                            max_retries=Retry(total=False, redirect=False, raise_on_status=False))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    kw: dict[str, Any] = {"session": session, "session_owner": False, "read_timeout": READ_TIMEOUT}
    if connection_verify is not None:
        kw["connection_verify"] = connection_verify
    return RequestsTransport(**kw), session


# ---------------------------------------------------------------------------------------------------------------
# Small helpers over ARM JSON (tolerant: a malformed object must not stop the run; ingest reports it)
# ---------------------------------------------------------------------------------------------------------------

def _get(d: Any, *path: str) -> Any:
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _list(x: Any) -> list:
    return x if isinstance(x, list) else []


def _parts(rid: str) -> tuple[str, str, list[str]]:
    """``/subscriptions/s/resourceGroups/g/providers/NS/t1/n1/t2/n2`` -> (s, g, [n1, n2])."""
    segs = [s for s in str(rid).split("/") if s]
    low = [s.lower() for s in segs]
    sub = segs[1] if len(segs) > 1 and low[0] == "subscriptions" else ""
    rg = segs[3] if len(segs) > 3 and low[2] == "resourcegroups" else ""
    if "providers" not in low:
        return sub, rg, []
    i = len(low) - 1 - low[::-1].index("providers")
    return sub, rg, segs[i + 3::2]


def _sub_of(rid: str) -> str:
    return _parts(rid)[0].lower()


def _backup_vault_refs(vault: dict) -> tuple[bool, list[str]]:
    """Whether the vault has a backup PE connection (vault side), and the PE ids its connections name."""
    backup, refs = False, []
    for c in _list(_get(vault, "properties", "privateEndpointConnections")):
        groups = {str(g).lower() for g in _list(_get(c, "properties", "groupIds"))}
        if groups and not groups & BACKUP_GROUPS:
            continue  # e.g. AzureSiteRecovery; no groupIds (older API versions): assume backup
        backup = True
        pe = _get(c, "properties", "privateEndpoint", "id")
        if isinstance(pe, str):
            refs.append(pe)
    return backup, refs


def _pe_backup_targets(pe: dict) -> list[str]:
    """The vault ids a PE connects to with a backup group id (empty: not a backup PE)."""
    out = []
    props = _get(pe, "properties") or {}
    conns = [*_list(_get(props, "privateLinkServiceConnections")),
             *_list(_get(props, "manualPrivateLinkServiceConnections"))]
    for c in conns:
        target = _get(c, "properties", "privateLinkServiceId")
        groups = {str(g).lower() for g in _list(_get(c, "properties", "groupIds"))}
        if isinstance(target, str) and "/providers/microsoft.recoveryservices/vaults/" in target.lower() \
                and groups & BACKUP_GROUPS:
            out.append(target)
    return out


def _vnet_of(subnet_id: Any) -> str | None:
    if not isinstance(subnet_id, str) or "/subnets/" not in subnet_id.lower():
        return None
    return subnet_id[:subnet_id.lower().rindex("/subnets/")]


def _trim_event(e: Any) -> Any:
    return {k: e[k] for k in EVENT_FIELDS if k in e} if isinstance(e, dict) else e


def _is_register_event(e: Any) -> bool:
    op = _get(e, "operationName", "value") if isinstance(_get(e, "operationName"), dict) else _get(e, "operationName")
    return isinstance(op, str) and op.lower() == REGISTER_ACTION


# ---------------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------------

_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Progress:
    """Progress on stderr: a rich bar when stderr is a terminal, else one plain line per finished subscription;
    with ``structured`` (``--log-format json``) one log record per finished subscription instead (logger
    ``auditor.progress``, message "subscription done", counts and timings in ``record.fields``)."""

    LOG = logging.getLogger("auditor.progress")

    def __init__(self, stream=None, rich: bool | None = None, structured: bool = False):
        self.stream = stream or sys.stderr
        self.structured = structured
        self._rich = False if structured else (self.stream.isatty() if rich is None else rich)
        self._bar = self._task = None
        self.names: dict[str, str] = {}

    def start(self, subscriptions: dict[str, str]) -> None:
        self.names = subscriptions
        if self._rich:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("subscriptions", total=len(subscriptions))

    def call_done(self, calls_done: int, calls_total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"subscriptions ({calls_done}/{calls_total} reads)")

    def subscription_done(self, sub: str, counts: Counter, errors: int, seconds: float) -> None:
        if self.structured:
            self.LOG.info("subscription done", extra={"fields": {
                "event": "subscription_done", "subscription_id": sub, "subscription_name": self.names.get(sub) or "",
                "objects": int(sum(counts.values())), "counts": {t: int(n) for t, n in sorted(counts.items())},
                "errors": int(errors), "seconds": round(float(seconds), 3)}})
            return
        name = _TERMINAL_UNSAFE.sub("", self.names.get(sub) or sub)  # display names are input: no escapes
        what = ", ".join(f"{n} {t.rsplit('/', 1)[-1]}" for t, n in sorted(counts.items())) or "nothing"
        line = f"collected {name} ({sub}): {what}; {errors} error(s) in {seconds:.1f}s"
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.console.print(line)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ---------------------------------------------------------------------------------------------------------------
# The enumerator
# ---------------------------------------------------------------------------------------------------------------

def _task_key(t: "_Task") -> str:
    """The budget (see :func:`_pace_key`) a task's requests draw on."""
    if t.c.level == "graph":
        return "graph"
    if t.subject.lower().startswith("/subscriptions/"):
        return _sub_of(t.subject)
    if t.c.level == "subscription" and t.subject:
        return t.subject.lower()
    return "tenant"


class _Queue:
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

    def put(self, t: "_Task") -> None:
        key = _task_key(t)
        q = self._by_key.get(key)
        if q is None:
            q = self._by_key[key] = deque()
        if not q:
            bisect.insort(self._order, (self._rank.get(key, -1), key))
        q.append(t)
        self._n += 1

    def take(self, ready: Callable[[str], bool]) -> "_Task | None":
        for i, (_, key) in enumerate(self._order):
            if ready(key):
                q = self._by_key[key]
                t = q.popleft()
                if not q:
                    del self._order[i]
                self._n -= 1
                return t
        return None


class _Page:
    """Rows of a Resource Graph query's page, on their way from a worker thread to the scheduling thread."""

    __slots__ = ("rows",)

    def __init__(self, rows: list):
        self.rows = rows


@dataclass(frozen=True)
class _Task:
    c: Collector
    subject: str        # subscription id or resource id
    client_sub: str     # subscription the client is bound to
    group: str          # subscription the work is counted under (progress)


class _Enumerator:
    def __init__(self, credential, arm: str, scope: str, max_concurrency: int, progress, connection_verify):
        self.credential = SharedCredential(credential) if not isinstance(credential, SharedCredential) else credential
        self.arm, self.scope = arm.rstrip("/"), scope
        self.max_concurrency = max(1, int(max_concurrency))
        self.progress = progress
        self.connection_verify = connection_verify
        self.transport, self.session = _transport(self.max_concurrency, connection_verify, self.arm)
        self.pacer = _Pacer(PACING["burst"], PACING["rate"], GRAPH["quota"], GRAPH["window"], GRAPH["margin"])
        self.source = "arm"
        self._batches: dict[str, list[str]] = {}        # Resource Graph batch -> its subscriptions
        self._depth: dict[tuple[str, str], int] = {}    # task -> requests on the dependent chain before it
        self._pages: dict[tuple[str, str], int] = {}    # task -> requests it made (pages)
        self._cur_depth = 0
        self.chain = 0                                  # the longest dependent chain of requests
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.resources = _Spool()                       # the objects kept, as JSON text in a temporary file
        self.errors: list[dict] = []
        self.in_scope: set[str] = set()
        self._seen: set[tuple[str, str]] = set()
        self._ids: set[str] = set()
        self._queue = _Queue()
        self._pending: Counter = Counter()              # progress group -> calls queued or running
        self._open: Counter = Counter()                 # client subscription -> ARM calls queued or running
        self._counts: dict[str, Counter] = {}
        self._errs: Counter = Counter()
        self._started: dict[str, float] = {}
        self._principals: set[str] = set()
        self._assignments: list[tuple[str, str]] = []   # (principalId, roleDefinitionId)
        self.calls_done = self.calls_total = 0
        self.part: set[str] | None = None               # a worker's own subscriptions (see _split)
        self.reported: set[str] = set()                 # subscriptions whose progress line is out
        self.workers = 1
        self.spool_dir: str | None = None
        self.deferred: list[tuple] = []                 # a worker's calls outside its part, for the parent
        self._deferred_keys: set[tuple[str, str]] = set()

    # -- clients --------------------------------------------------------------------------------------------
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
                          policies=_policies(self.credential, self.scope, self.pacer))
                cl = klass(self.credential, **kw) if tenant_level else \
                    klass(self.credential, subscription_id=sub, **kw)
                self._clients[key] = cl
            return cl

    # -- one call ---------------------------------------------------------------------------------------------
    def run(self, task: _Task, pages_to: queue.SimpleQueue | None = None) -> tuple[list, dict | None]:
        from azure.core.exceptions import AzureError, DecodeError, HttpResponseError

        c, objs, bad = task.c, [], []
        if c.level == "graph":
            return self._run_graph(task, pages_to)
        pages = [0]

        def hook(response) -> None:
            pages[0] += 1
            if response.http_response.status_code != 200:
                return
            body = response.context.get("deserialized_data")
            if c.single:
                (objs.append(body) if isinstance(body, dict) else bad.append("the answer is not a JSON object"))
            elif isinstance(body, dict) and isinstance(body.get("value"), list):
                objs.extend(body["value"])
                _skim(response.http_response, {"value": [], "nextLink": body.get("nextLink")})
            else:
                bad.append("the answer has no 'value' list")

        scope = f"/subscriptions/{task.subject}" if c.level == "subscription" else task.subject
        try:
            kw = self._kwargs(task)
            op = self.client(c.client, task.client_sub)
            for attr in c.call.split("."):
                op = getattr(op, attr)
            result = op(raw_response_hook=hook, **kw)
            if not c.single:
                for page in result.by_page():
                    for _ in page:
                        pass
                    if c.first_page:
                        break
        except ClientAuthenticationError:
            raise  # no token, or ARM refuses it: nothing can be read (collect_estate reports it once)
        except DecodeError as exc:
            return [], _error(scope, exc.status_code, f"{c.call}: malformed answer: {_short(exc)}", c.type)
        except HttpResponseError as exc:
            if exc.status_code == 404 and (c.single or c.level in ("vault", "pe", "zone")):
                # gone between list and get (or between listing a parent and listing its children), or a
                # reference to nothing: ARM answers a child collection of a live parent with a (possibly empty) list
                return [], None
            status = exc.status_code if exc.status_code is not None else None
            return [], _error(scope, status, f"{c.call}: {_short(exc)}", c.type)
        except AzureError as exc:  # connection errors, timeouts, retries exhausted
            return [], _error(scope, None, f"{c.call}: {type(exc).__name__}: {_short(exc)}", c.type)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a body the SDK could not read
            return [], _error(scope, None, f"{c.call}: malformed answer: {type(exc).__name__}: {_short(exc)}", c.type)
        finally:
            self._pages[(c.name, task.subject.lower())] = pages[0]
        if bad:
            return [], _error(scope, 200, f"{c.call}: malformed answer: {bad[0]}", c.type)
        return objs, None

    def _kwargs(self, task: _Task) -> dict:
        c = task.c
        kw = dict(c.kwargs() if callable(c.kwargs) else c.kwargs)
        if c.id_kw:
            kw[c.id_kw] = task.subject.lstrip("/")
        if c.names:
            _, rg, names = _parts(task.subject)
            values = [rg, *names]
            if len(values) < len(c.names) or not all(values[:len(c.names)]):
                raise ValueError(f"cannot read {c.type} names from id {task.subject!r}")
            kw.update(zip(c.names, values))
        return kw

    # -- scheduling ---------------------------------------------------------------------------------------------
    def add(self, name: str, subject: str, group: str, client_sub: str | None = None) -> None:
        key = (name, subject.lower())
        if key in self._seen:
            return
        sub = client_sub or (subject if COLLECTORS[name].level == "subscription" else _parts(subject)[0])
        task = _Task(COLLECTORS[name], subject, sub, group)
        if self.part is not None and (name == "role_definition" or _task_key(task) not in self.part):
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
                    key = _task_key(t)
                    inflight[key] += 1
                    running += 1
                    self._started.setdefault(t.group, time.monotonic())
                    pool.submit(self._run_to, done, t)
                try:
                    t, result = done.get(timeout=0.05 if self._queue else None)
                except queue.Empty:
                    continue   # a budget may have refilled
                while True:
                    if isinstance(result, _Page):   # a part of a call's answer, the call goes on
                        self._cur_depth = self._depth.get((t.c.name, t.subject.lower()), 0) + 1
                        self._graph_rows(t, result.rows)
                    else:
                        running -= 1
                        inflight[_task_key(t)] -= 1
                        if isinstance(result, BaseException):
                            raise result   # from the worker thread (a refused token, a bug): the run stops
                        self.accept(t, *result)
                    try:
                        t, result = done.get_nowait()
                    except queue.Empty:
                        break

    def _run_to(self, done: queue.SimpleQueue, t: _Task) -> None:
        try:
            result = self.run(t, done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the scheduling thread
            result = exc
        done.put((t, result))

    def accept(self, t: _Task, objs: list, err: dict | None) -> None:
        key = (t.c.name, t.subject.lower())
        self._cur_depth = self._depth.get(key, 0) + max(1, self._pages.pop(key, 1))
        self.chain = max(self.chain, self._cur_depth)
        if t.c.level == "graph":
            return self._accept_graph(t, objs, err)
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
            if self._pending[t.group] == 0 and t.group in self.in_scope and t.group not in self.reported:
                self.reported.add(t.group)
                self.progress.subscription_done(t.group, counts, self._errs[t.group],
                                                time.monotonic() - self._started.get(t.group, time.monotonic()))

    def _new(self, obj: Any) -> bool:
        """False for an object already collected (e.g. a management-group role assignment that every
        subscription's listing shows)."""
        rid = _get(obj, "id")
        return self._new_id(rid.lower() if isinstance(rid, str) else None)

    def _new_id(self, rid: str | None) -> bool:
        if rid is None:
            return True
        if rid in self._ids:
            return False
        self._ids.add(rid)
        return True

    def out_of_scope(self, rid: Any) -> bool:
        return isinstance(rid, str) and bool(_sub_of(rid)) and _sub_of(rid) not in self.in_scope

    def follow(self, t: _Task, objs: list) -> list:
        """Queue the calls a result leads to; returns the objects to keep."""
        name, g = t.c.name, t.group
        if name == "vaults":
            for v in objs:
                vid = _get(v, "id")
                if not isinstance(vid, str):
                    continue
                principal = _get(v, "identity", "principalId")
                if isinstance(principal, str):
                    self._principals.add(principal.lower())
                    for p, rd in self._assignments:   # custom roles as soon as both sides are known
                        if p == principal.lower():
                            self._role_definition(p, rd)
                backup, refs = _backup_vault_refs(v)
                if backup:
                    self.add("storage_config", vid, g)
                    self.add("activity_log", t.subject, g)
                    for pe in refs:
                        if self.out_of_scope(pe):
                            self.add("private_endpoint", pe, g)
                elif self.source == "arm":   # Resource Graph lists protected items itself
                    self.add("protected_items", vid, g)
        elif name in ("private_endpoints", "private_endpoint"):
            for pe in objs:
                pid, targets = _get(pe, "id"), _pe_backup_targets(pe)
                if not isinstance(pid, str) or not targets:
                    continue
                self.add("zone_groups", pid, g)
                for vault in targets:  # PE-side connections the vault side may not show
                    if not self.out_of_scope(vault):
                        self.add("storage_config", vault, g)
                        self.add("activity_log", _sub_of(vault), g, client_sub=_sub_of(vault))
                for nic in _list(_get(pe, "properties", "networkInterfaces")):
                    if self.out_of_scope(_get(nic, "id")):
                        self.add("network_interface", nic["id"], g)
                vnet = _vnet_of(_get(pe, "properties", "subnet", "id"))
                if self.out_of_scope(vnet):
                    self.add("virtual_network", vnet, g)
        elif name == "zone_groups":
            for zg in objs:
                for cfg in _list(_get(zg, "properties", "privateDnsZoneConfigs")):
                    zid = _get(cfg, "properties", "privateDnsZoneId")
                    if self.out_of_scope(zid):
                        self.add("private_dns_zone", zid, g)
        elif name in ("private_dns_zones", "private_dns_zone"):
            for z in objs:
                if isinstance(_get(z, "id"), str):
                    self.add("a_records", z["id"], g)
                    self.add("vnet_links", z["id"], g)
        elif name == "role_assignments":
            for ra in objs:
                p, rd = _get(ra, "properties", "principalId"), _get(ra, "properties", "roleDefinitionId")
                if isinstance(p, str) and isinstance(rd, str):
                    self._assignments.append((p.lower(), rd))
                    self._role_definition(p.lower(), rd)
        elif name == "activity_log":
            return [_trim_event(e) for e in objs if _is_register_event(e)]
        elif name == "role_definition":
            return [d for d in objs if str(_get(d, "properties", "type") or "").lower() == "customrole"]
        return objs

    def role_definitions(self) -> None:
        """Custom roles referenced by assignments of vault principals (built-in GUIDs are known)."""
        for principal, rd in self._assignments:
            self._role_definition(principal, rd)

    def _role_definition(self, principal: str, rd: str) -> None:
        if principal in self._principals and rd.rstrip("/").rsplit("/", 1)[-1].lower() not in BUILTIN_ROLES:
            anysub = min(self.in_scope) if self.in_scope else ""
            self.add("role_definition", rd, "", client_sub=_sub_of(rd) or anysub)

    # -- Resource Graph -------------------------------------------------------------------------------------------
    def add_graph(self, subs: list[str]) -> None:
        """One query per type of :data:`GRAPH_QUERIES` per batch of up to ``GRAPH["batch"]`` subscriptions."""
        size = max(1, int(GRAPH["batch"]))
        for i in range(0, len(subs), size):
            batch = f"batch-{i // size}"
            self._batches[batch] = subs[i:i + size]
            for sub in self._batches[batch]:
                self._started.setdefault(sub.lower(), time.monotonic())
            for name, (table, arm_type) in GRAPH_QUERIES.items():
                c = Collector(f"graph:{name}", GRAPH_CLIENT, "resources", arm_type, "graph",
                              {"query": graph_query(table, arm_type), "as": name})
                key = (c.name, batch)
                self._seen.add(key)
                self._depth[key] = self._cur_depth
                self._queue.put(_Task(c, batch, "", ""))
                for sub in self._batches[batch]:
                    self._pending[sub.lower()] += 1
                self.calls_total += 1

    def _run_graph(self, task: _Task, pages_to: queue.SimpleQueue | None = None) -> tuple[list, dict | None]:
        """A query, page after page. With ``pages_to``, each page's rows go there as they come (as a
        :class:`_Page`, accepted by the scheduling thread at once) rather than into the result: memory holds a page,
        not the query's answer. A failure after some pages still makes the query's error records."""
        from azure.core.exceptions import AzureError, DecodeError, HttpResponseError
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        subs, query = self._batches[task.subject], task.c.kwargs["query"]
        rows: list = []
        pages, box = 0, {}

        def hook(response) -> None:
            if response.http_response.status_code == 200:
                doc = box["doc"] = response.context.get("deserialized_data")
                if isinstance(doc, dict):   # the SDK's model of the page: without the rows we already hold
                    _skim(response.http_response, {k: v for k, v in doc.items() if k != "data"} | {"data": []})

        what = f"Resource Graph query {query!r}"
        try:
            client, token = self.client(GRAPH_CLIENT, ""), None
            while True:
                options = QueryRequestOptions(top=int(GRAPH["top"]), skip_token=token, result_format="objectArray")
                client.resources(QueryRequest(subscriptions=subs, query=query, options=options),
                                 raw_response_hook=hook)
                pages += 1
                doc = box.pop("doc", None)
                if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
                    raise ValueError("the answer has no 'data' list")
                token = doc.get("$skipToken")
                page = [_from_graph(r) for r in doc["data"]]
                del doc
                if pages_to is not None:
                    pages_to.put((task, _Page(page)))
                else:
                    rows.extend(page)
                if not token:
                    break
        except ClientAuthenticationError:
            raise
        except DecodeError as exc:
            return [], _error("", exc.status_code, f"{what}: malformed answer: {_short(exc)}", task.c.type)
        except HttpResponseError as exc:
            return [], _error("", exc.status_code, f"{what}: {_short(exc)}", task.c.type)
        except AzureError as exc:
            return [], _error("", None, f"{what}: {type(exc).__name__}: {_short(exc)}", task.c.type)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return [], _error("", None, f"{what}: malformed answer: {type(exc).__name__}: {_short(exc)}",
                              task.c.type)
        finally:
            self._pages[(task.c.name, task.subject.lower())] = max(1, pages)
        return rows, None

    def _accept_graph(self, t: _Task, rows: list, err: dict | None) -> None:
        """The end of a query (its rows, unless its pages came one by one); a failed query is an error record for
        each subscription of its batch (pages already read stay: the records make what rests on them Error)."""
        self.calls_done += 1
        subs = [s.lower() for s in self._batches[t.subject]]
        if err:
            for sub in subs:
                self.errors.append({**err, "scope": f"/subscriptions/{sub}"})
                self._errs[sub] += 1
        else:
            self._graph_rows(t, rows)
        for sub in subs:
            self._pending[sub] -= 1
            self._report(sub)
            if self._pending[sub] == 0:
                self._release(sub)
        if self.progress is not None:
            self.progress.call_done(self.calls_done, self.calls_total)

    def _graph_rows(self, t: _Task, rows: list) -> None:
        """Rows of a query, per subscription, through the follow-ups of the ARM collector it stands in for."""
        name = t.c.kwargs["as"]
        by_sub: dict[str, list] = {}
        for r in rows:
            rid = _get(r, "id")
            by_sub.setdefault(_sub_of(rid) if isinstance(rid, str) else "", []).append(r)
        for sub, objs in by_sub.items():
            st = _Task(COLLECTORS[name], sub, sub, sub)
            if name != "private_dns_zones":   # records and links come from Resource Graph too
                objs = self.follow(st, objs)
            objs = [o for o in objs if self._new(o)]
            self.resources.extend(objs)
            self._counts.setdefault(sub, Counter())[t.c.type] += len(objs)

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


def _skim(http_response, stub: dict) -> None:
    """Hand the SDK an empty page (same nextLink) once the raw body is taken: it would otherwise build a model
    object for every item only for us to drop it (a quarter of the client's CPU per request, and memory). The
    SDK's generated code reads the body through ``http_response.json()``, which returns its ``_json`` cache (saving
    a second parse of the body too); where a response keeps no such cache, nothing changes."""
    if hasattr(http_response, "_json"):
        http_response._json = stub


def _short(exc: Exception, limit: int = 400) -> str:
    msg = getattr(exc, "message", None) or str(exc)
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[:limit] + "..."


def _error(scope: str, status: Any, message: str, *types: str) -> dict:
    return {"scope": scope, "status": status, "message": message, "types": list(types)}


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
    import re
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
    subscription's budget stays in one process (see :func:`_split`)."""
    if cloud not in CLOUDS:
        raise CollectError(f"--cloud: unknown cloud {cloud!r} (choose from {', '.join(CLOUDS)})")
    if source not in ("arm", "resource-graph"):
        raise CollectError(f"--source: unknown source {source!r} (choose from arm, resource-graph)")
    arm = arm_endpoint or default_arm_endpoint(cloud)
    collected_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if not isinstance(credential, SharedCredential):
        credential = SharedCredential(credential)   # one token for the parent and every worker it forks
    en = _Enumerator(credential, arm, CLOUDS[cloud]["scope"], max_concurrency, progress, connection_verify)
    en.source = source
    used = 1
    try:
        listed, err = en.run(_Task(COLLECTORS["subscriptions"], "", "", ""))
        en._cur_depth = en.chain = max(1, en._pages.pop(("subscriptions", ""), 1))
        if err:
            err["scope"] = ""
            en.errors.append(err)
            if not subscriptions:
                return _result(en, collected_at)
        listed = [s for s in listed if isinstance(s, dict) and isinstance(s.get("subscriptionId"), str)]
        chosen, missing = _select(listed, subscriptions)
        subs = [s["subscriptionId"] for s in chosen] + missing
        en.in_scope = {s.lower() for s in subs}
        en._queue.rank(subs)
        en.resources.extend(s for s in chosen if en._new(s))
        used = min(_worker_count(workers, len(subs), source), en.max_concurrency)
        en.workers = used
        children = _split(en, subs, missing, used) if used > 1 else None
        if progress is not None:   # after the fork: a rich bar runs a thread
            progress.start({s["subscriptionId"].lower(): s.get("displayName") or "" for s in chosen}
                           | {m.lower(): "" for m in missing})
        if children is not None:
            _join(en, children)
        else:
            _queue_subscriptions(en, subs, missing)
        en.drain()
        en.role_definitions()
        en.drain()
        return _result(en, collected_at)
    except ClientAuthenticationError as exc:
        raise CollectError(f"cannot authenticate to {arm}: {_short(exc, 300)}") from None
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


def _queue_subscriptions(en: _Enumerator, subs: list[str], missing: list[str]) -> None:
    for sub in missing:
        en.add("subscription", sub, sub.lower())
    if en.source == "resource-graph":
        en.add_graph(subs)
    for sub in subs:
        for c in COLLECTORS.values():
            if c.level == "subscription" and c.name not in ("subscription", "activity_log") and \
                    (en.source == "arm" or c.name in GRAPH_ARM):
                en.add(c.name, sub, sub.lower())


def _worker_count(workers: int | None, subs: int, source: str) -> int:
    """Worker processes for a run (fork only)."""
    if not hasattr(os, "fork"):
        return 1
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 4, subs // 4))
    return max(1, min(int(workers), subs))


def _split(en: _Enumerator, subs: list[str], missing: list[str], n: int) -> list[tuple[int, Any]]:
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


class _PipeProgress:
    """A worker's progress, sent to the parent."""

    def __init__(self, conn):
        self.conn = conn

    def call_done(self, done: int, total: int) -> None:
        self.conn.send(("call", done, total))

    def subscription_done(self, sub: str, counts: Counter, errors: int, seconds: float) -> None:
        self.conn.send(("sub", sub, dict(counts), errors, seconds))


def _worker(parent: _Enumerator, conn, part: list[str], missing: list[str], spool_dir: str) -> int:
    try:
        share = max(1, parent.max_concurrency // parent.workers)   # the run's concurrency, shared out
        en = _Enumerator(parent.credential, parent.arm, parent.scope, share, _PipeProgress(conn),
                         parent.connection_verify)   # its own connections: the parent's stay the parent's
        en.source, en.in_scope, en.part = parent.source, parent.in_scope, {p.lower() for p in part}
        en.pacer.quota = max(1, parent.pacer.quota // parent.workers)   # Resource Graph's quota is the user's
        en._ids = set(parent._ids)
        en._cur_depth = en.chain = parent.chain
        path = os.path.join(spool_dir, f"worker-{os.getpid()}")
        en.resources = _Spool(path)
        en._queue.rank(part)
        _queue_subscriptions(en, part, missing)
        en.drain()
        en.resources.flush()
        conn.send(("done", {"resources": (path, en.resources.index), "errors": en.errors, "seen": en._seen,
                            "deferred": en.deferred, "principals": en._principals, "assignments": en._assignments,
                            "chain": en.chain, "calls_total": en.calls_total, "calls_done": en.calls_done,
                            "counts": en._counts, "errs": en._errs, "pacer": en.pacer.state()}))
        return 0
    except ClientAuthenticationError as exc:
        conn.send(("auth", _short(exc, 300)))
        return 0
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        conn.send(("fail", f"{type(exc).__name__}: {exc}"))
        return 1


def _join(en: _Enumerator, children: list[tuple[int, Any]]) -> None:
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
    for r in results:
        en._seen |= r["seen"]
    for r in results:
        en.resources.take(*r["resources"], keep=en._new_id)
        en.errors.extend(r["errors"])
        en._principals |= r["principals"]
        en._assignments.extend(r["assignments"])
        en.chain = max(en.chain, r["chain"])
        en.calls_total += r["calls_total"]
        en.calls_done += r["calls_done"]
        en.pacer.merge(r["pacer"])
        en._errs.update(r["errs"])
        for g, c in r["counts"].items():
            en._counts.setdefault(g, Counter()).update(c)
    for r in results:
        for name, subject, group, client_sub, depth in r["deferred"]:
            en._cur_depth = depth
            en.add(name, subject, group, client_sub)


class _Spool:
    """The objects a collector keeps, written as compact JSON text to a temporary file as they come, so that memory
    does not grow with the estate: only an index stays in memory (sort key, id for de-duplication, file, offset,
    length). The stdlib's JSON round-trips whatever the SDK's parse gave (big integers, NaN, lone surrogates)."""

    def __init__(self, path: str | None = None) -> None:
        # a worker spools to a named file in the run's private directory, for the parent to :meth:`take`
        self.files = [open(path, "wb+") if path else tempfile.TemporaryFile()]  # noqa: SIM115 - closed with it
        self.index: list[tuple[str, str | None, int, int, int]] = []
        self._end = 0

    def extend(self, objs) -> None:
        fh, index = self.files[0], self.index
        for obj in objs:
            rid = _get(obj, "id")
            data = json.dumps(obj, separators=(",", ":")).encode("ascii")
            fh.write(data)
            index.append((str(rid or "").lower(), rid.lower() if isinstance(rid, str) else None, 0, self._end,
                          len(data)))
            self._end += len(data)

    def flush(self) -> None:
        self.files[0].flush()

    def take(self, path: str, index: list[tuple], keep: Callable[[str | None], bool]) -> None:
        """Adopt a worker's saved spool: the entries ``keep`` accepts (by id)."""
        fh = open(path, "rb")  # noqa: SIM115 - held by the spool, closed with it
        os.unlink(path)   # the open file keeps the data; nothing is left behind
        self.files.append(fh)
        n = len(self.files) - 1
        self.index.extend((key, rid, n, off, size) for key, rid, _, off, size in index if keep(rid))

    def collected(self) -> "Collected":
        self.flush()
        self.index.sort(key=lambda e: e[0])
        return Collected(self.files, [e[2:] for e in self.index])


class Collected(Sequence):
    """The collected objects, in id order, read from the collector's spool files and parsed when read (each read
    parses anew). :meth:`texts` gives each object's JSON text, for writing a snapshot without parsing it."""

    def __init__(self, files: list, entries: list[tuple[int, int, int]]):
        self._fds = [f.fileno() for f in files]
        self._files = files   # kept open (the data lives as long as they do)
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def _text(self, entry: tuple[int, int, int]) -> str:
        n, off, size = entry
        return os.pread(self._fds[n], size, off).decode("ascii")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [json.loads(self._text(e)) for e in self._entries[i]]
        return json.loads(self._text(self._entries[i]))

    def __iter__(self):
        return (json.loads(self._text(e)) for e in self._entries)

    def texts(self):
        return map(self._text, self._entries)

    @property
    def size(self) -> int:
        """Bytes of JSON text."""
        return sum(e[2] for e in self._entries)


def _result(en: _Enumerator, collected_at: str) -> dict:
    en.errors.sort(key=lambda e: (e["scope"].lower(), e["types"]))
    return {"resources": en.resources.collected(), "errors": en.errors, "collected_at": collected_at,
            "collected_types": COLLECTED_TYPES}


__all__ = ["CLOUDS", "COLLECTORS", "Collected", "Collector", "CollectError", "Progress", "SharedCredential", "build_credential",
           "collect_estate", "default_arm_endpoint"]

