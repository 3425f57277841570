"""An HTTPS Azure Resource Manager emulator on loopback, for tests and benchmarks.

It serves an *estate* (a list of plain ARM JSON objects) generically by id, the way ARM scopes things:

* ``GET <id>`` answers the object whose id matches (case-insensitively);
* ``GET <scope>/providers/<NS>/<type>`` and ``GET <parent id>/<child type>`` answer a collection page
  ``{"value": [...], "nextLink": ...}`` of the objects of that type under that scope, ``page_size`` at a time,
  with absolute ``nextLink``\\ s pointing back at the emulator; ``/subscriptions`` lists subscriptions and the
  activity log (``.../microsoft.insights/eventtypes/management/values``) lists events by ``subscriptionId``,
  honouring ``$filter`` (eventTimestamp / resourceProvider) and ``$select``.
* Management groups and Azure Policy as ARM answers them: ``GET /providers/Microsoft.Management/managementGroups/{g}``
  (the object as given, e.g. with ``children``; a group the estate holds only as another's child: its parent and
  ``$expand=path`` path from the hierarchy), ``.../managementGroups/{g}/descendants`` (every group and
  subscription below, in the descendants shape: ``type`` ``Microsoft.Management/managementGroups`` or
  ``/subscriptions``, ``properties.parent.id``), and a subscription's or group's ``policyAssignments`` list with the
  assignments inherited from the groups above it (all management-group assignments when the estate holds no
  hierarchy for it). Built-in and custom set definitions are served by id like any object.

Every request needs an ``api-version`` query parameter (400 otherwise) and ``Authorization: Bearer <token>`` (401
otherwise) and is recorded in :attr:`Emulator.requests` (without the Authorization header). Faults
(:class:`Fault`), a latency model and ARM's per-subscription read token bucket (:class:`TokenBucket`) can be switched
on. POST routes (e.g. Resource Graph) plug into :attr:`Emulator.post_routes`.
"""
from __future__ import annotations

import json
import math
import re
import socket
import ssl
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

import trustme

EVENTS = "microsoft.insights/eventtypes/values"
SUBSCRIPTIONS = "microsoft.resources/subscriptions"
PROVIDERS = "microsoft.resources/providers"
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"
ROLE_DEFINITIONS = "microsoft.authorization/roledefinitions"
PROTECTED_ITEM = "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems"
POLICY_ASSIGNMENTS = "microsoft.authorization/policyassignments"
MANAGEMENT_GROUPS = "microsoft.management/managementgroups"
MG_PREFIX = "/providers/microsoft.management/managementgroups/"
PROTECTION_CONTAINER = "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers"
POLICY_ASSIGNMENTS = "microsoft.authorization/policyassignments"
MANAGEMENT_GROUPS = "microsoft.management/managementgroups"
MG_PREFIX = "/providers/microsoft.management/managementgroups/"
RECORD_TYPES = {f"microsoft.network/privatednszones/{t}" for t in ("a", "aaaa", "cname", "mx", "ptr", "soa", "srv",
                                                                     "txt")}
# collection type (as the request path names it) -> the object kinds it lists
COLLECTION_ALIASES = {
    "microsoft.recoveryservices/vaults/backupprotecteditems": {PROTECTED_ITEM},
    # BackupProtectionContainers_List (the workload side): $filter backupManagementType eq '...' honoured
    "microsoft.recoveryservices/vaults/backupprotectioncontainers": {PROTECTION_CONTAINER},
    "microsoft.network/privatednszones/all": RECORD_TYPES,
    "microsoft.insights/eventtypes/values": {EVENTS},
}
_SUB_ID = re.compile(r"^/subscriptions/[^/]+$", re.I)
IDENTITY_PATH = "/msi/token"
METADATA_PATH = "/metadata/endpoints"
GRAPH_GET_BY_IDS = "/v1.0/directoryobjects/getbyids"
ERROR_CODES = {400: "BadRequest", 401: "AuthenticationFailed", 403: "AuthorizationFailed", 404: "ResourceNotFound",
               405: "MethodNotAllowed", 409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError",
               502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


def type_from_id(rid: str) -> str:
    segs = [s for s in rid.lower().split("/") if s]
    if "providers" not in segs:
        return SUBSCRIPTIONS if len(segs) == 2 and segs[0] == "subscriptions" else ""
    i = len(segs) - 1 - segs[::-1].index("providers")
    rest = segs[i + 1:]
    return "/".join([rest[0], *rest[1::2]]) if rest else ""


def kind_of(obj: dict) -> str:
    """The lower-cased ARM type an object is listed under."""
    t = obj.get("type")
    if isinstance(t, str) and t:
        return t.lower()
    if "operationName" in obj and "eventTimestamp" in obj:
        return EVENTS
    rid = obj.get("id") if isinstance(obj.get("id"), str) else ""
    if _SUB_ID.match(rid):
        return SUBSCRIPTIONS
    if "namespace" in obj and "registrationState" in obj:
        return PROVIDERS
    return type_from_id(rid)


def _norm(path: str) -> str:
    return "/" + "/".join(s for s in path.lower().split("/") if s)


def _prefixes(rid: str) -> Iterable[str]:
    segs = [s for s in rid.split("/") if s]
    for n in range(1, len(segs)):
        yield "/" + "/".join(segs[:n])


@dataclass
class Fault:
    """A fault that fires on requests whose path starts with ``prefix`` and contains ``contains`` (both
    case-insensitive; empty matches all): on every ``every``-th match, at most ``times`` times (None: always).

    It answers ``status`` (with ``Retry-After: retry_after`` if given) or, with ``reset``, closes the connection
    without answering, or, with ``malformed``, answers 200 with a broken JSON body. ``delay`` seconds are waited
    first; a fault with only a delay is a slow answer that then proceeds normally."""
    status: int | None = None
    prefix: str = ""
    contains: str = ""
    times: int | None = None
    every: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    reset: bool = False
    malformed: bool = False
    message: str = ""
    code: str = ""
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def fires(self, path: str) -> bool:
        if not path.startswith(_norm(self.prefix) if self.prefix else "") or self.contains.lower() not in path:
            return False
        self.seen += 1
        if self.seen % max(1, self.every) or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


class TokenBucket:
    """ARM's per-subscription read throttle: ``capacity`` reads, refilled at ``rate`` per second."""

    def __init__(self, capacity: float = 250, rate: float = 25):
        self.capacity, self.rate = capacity, rate
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[float, int]:
        """(seconds to wait, 0 if a token was taken; tokens remaining)."""
        with self._lock:
            now = time.monotonic()
            tokens, last = self._state.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return 0.0, int(tokens - 1)
            self._state[key] = (tokens, now)
            return (1 - tokens) / self.rate, 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, emulator: "Emulator", context: ssl.SSLContext):
        self.emulator, self.context = emulator, context
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        try:  # the TLS handshake runs in the request's own thread
            # headers and body are written separately: without TCP_NODELAY, Nagle's algorithm and the client's
            # delayed ACK add ~40 ms to every answer on a kept-alive connection
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):  # a reset fault or a client gone away: not news
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "arm-emulator/1"

    def do_GET(self):  # noqa: N802
        self.server.emulator.handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, *args):
        pass


class Emulator:
    """The emulator. ``with Emulator(objects) as emu:`` starts it on 127.0.0.1 (random port); ``emu.url`` is the
    ARM endpoint, ``emu.ca_file`` the CA bundle to trust, ``emu.token`` (if set) the only bearer token accepted."""

    def __init__(self, estate: Iterable[dict] = (), *, page_size: int = 2, token: str | None = None,
                 ca: trustme.CA | None = None, workdir: str | Path | None = None):
        self.page_size = page_size
        self.token = token
        self.faults: list[Fault] = []
        self.latency = 0.0                      # seconds added to every answer
        self.throttle: TokenBucket | None = None
        self.event_time_filter = True           # honour eventTimestamp bounds in the activity log $filter
        self.request_hook: Callable | None = None  # answers first when set (writes.Writable: the plan's writes)
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0   # concurrent requests being answered, and the peak
        self.cpu_seconds = 0.0                  # CPU time spent answering (excluding TLS handshakes)
        self.canned: dict[str, dict] = {}       # path -> a published example body served verbatim
        self.post_routes: dict[str, Callable[["Emulator", dict, Any], tuple[int, Any]]] = {}
        # the App Service managed-identity protocol (what `az login --identity` speaks): GET <url>/msi/token with
        # X-IDENTITY-HEADER answers the token; off unless set
        self.identity_header: str | None = None
        self._lock = threading.Lock()
        self._ca = ca or trustme.CA()
        self._dir = Path(workdir or tempfile.mkdtemp(prefix="arm-emulator-"))
        self.ca_file = str(self._dir / "emulator-ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)
        self._server: _Server | None = None
        self.set_estate(estate)

    # -- estate ---------------------------------------------------------------------------------------------
    def set_estate(self, objects: Iterable[dict]) -> None:
        by_id: dict[str, dict] = {}
        index: dict[tuple[str, str], list[dict]] = {}
        inherited: list[dict] = []
        mg_parent: dict[str, str] = {}     # child id (group or /subscriptions/x) -> parent group id, lower-cased
        mg_names: dict[str, str] = {}      # node id -> display name
        mg_policies: list[dict] = []
        for obj in objects:
            rid = obj.get("id")
            if not isinstance(rid, str) or not rid:
                continue
            kind = kind_of(obj)
            if kind in (MANAGEMENT_GROUPS, "/subscriptions", "microsoft.management/managementgroups/subscriptions"):
                _hierarchy(obj, mg_parent, mg_names)  # a subscription's parent may come with a duplicate id
            if _norm(rid) in by_id:
                continue  # ARM holds one object per id: the first wins
            by_id[_norm(rid)] = obj
            scopes = {"/", *_prefixes(rid)}
            if kind == EVENTS and isinstance(obj.get("subscriptionId"), str):
                scopes.add(_norm("/subscriptions/" + obj["subscriptionId"]))
            if kind == ROLE_ASSIGNMENTS and not rid.lower().startswith("/subscriptions/"):
                inherited.append(obj)  # management group / root assignments show in every subscription's list
            if kind == POLICY_ASSIGNMENTS and rid.lower().startswith(MG_PREFIX):
                mg_policies.append(obj)
            for s in scopes:
                index.setdefault((kind, _norm(s)), []).append(obj)
        with self._lock:
            self.by_id, self.index, self.inherited = by_id, index, inherited
            self.mg_parent, self.mg_names, self.mg_policies = mg_parent, mg_names, mg_policies

    def ancestors(self, node: str) -> list[str]:
        """The management groups above a subscription or group id (lower-cased), its parent first."""
        out, node = [], _norm(node)
        while node in self.mg_parent and len(out) < 20:
            node = self.mg_parent[node]
            out.append(node)
        return out

    def _inherited_policies(self, scope: str) -> list[dict]:
        """Management-group policy assignments that apply at a subscription or group scope: those of the groups
        above it, or every one when the estate holds no hierarchy for the scope."""
        known = scope in self.mg_parent
        above = set(self.ancestors(scope))
        out = []
        for a in self.mg_policies:
            group = _norm(a["id"]).split("/providers/microsoft.authorization/")[0]
            if group == scope:
                continue  # its own: already in the scoped listing
            if not known or group in above:
                out.append(a)
        return out

    def _policy_filter(self, scope: str, items: list[dict], flt: str) -> list[dict]:
        """PolicyAssignments_List's $filter as the REST reference describes it: none = inherited + at + below the
        scope; atScope() = inherited + at; atExactScope() = at; atScopeAndBelow() = at + below. ``items`` holds the
        assignments at and below the scope; inherited ones (management groups above) exist for subscription and
        group scopes."""
        at = [a for a in items if _norm(a["id"]).split("/providers/microsoft.authorization/")[0] == scope]
        inherited = self._inherited_policies(scope) if (_SUB_ID.match(scope) or scope.startswith(MG_PREFIX)) else []
        f = re.sub(r"\s+", "", flt).lower()
        if f == "atexactscope()":
            return at
        if f == "atscope()":
            return inherited + at
        if f == "atscopeandbelow()":
            return items
        return items + inherited

    def _group(self, group: str) -> dict:
        """A management group as ``GET .../managementGroups/{g}?$expand=path`` answers it, from the hierarchy: its
        parent and its path (the groups above it, root first)."""
        def arm_id(g: str) -> str:
            return g.replace(MG_PREFIX, "/providers/Microsoft.Management/managementGroups/")
        name = group.rsplit("/", 1)[-1]
        above = self.ancestors(group)
        details: dict = {"path": [{"name": g.rsplit("/", 1)[-1], "displayName": self.mg_names.get(g, g.rsplit("/", 1)[-1])}
                                  for g in reversed(above)]}
        if above:
            details["parent"] = {"id": arm_id(above[0]), "name": above[0].rsplit("/", 1)[-1]}
        return {"id": arm_id(group), "type": "Microsoft.Management/managementGroups", "name": name,
                "properties": {"displayName": self.mg_names.get(group, name), "details": details}}

    def _descendants(self, group: str) -> list[dict]:
        out = []
        for child, parent in self.mg_parent.items():
            chain = [parent, *self.ancestors(parent)]
            if group in chain:
                sub = child.startswith("/subscriptions/")
                out.append({"id": child if sub else child.replace(MG_PREFIX, "/providers/Microsoft.Management/managementGroups/"),
                            "type": "/subscriptions" if sub else "Microsoft.Management/managementGroups",
                            "name": child.rsplit("/", 1)[-1],
                            "properties": {"displayName": self.mg_names.get(child, child.rsplit("/", 1)[-1]),
                                           "parent": {"id": parent.replace(MG_PREFIX, "/providers/Microsoft.Management/managementGroups/")}}})
        return sorted(out, key=lambda o: o["id"].lower())

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> "Emulator":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(ctx)
        self._server = _Server(("127.0.0.1", 0), _Handler, self, ctx)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="arm-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- answers ------------------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        cpu = time.thread_time()
        try:
            self._handle(h)
        finally:
            cpu = time.thread_time() - cpu
            with self._lock:
                self.cpu_seconds += cpu

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        qlow = {k.lower(): v for k, v in query.items()}
        path = _norm(split.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length else b""
        auth = h.headers.get("Authorization") or ""
        bearer = auth[7:] if auth[:7].lower() == "bearer " else ""
        entry = {"method": h.command, "path": split.path, "query": query, "time": time.time(),
                 "body": raw_body.decode("utf-8", "replace") if raw_body else "",
                 "headers": {k: v for k, v in h.headers.items() if k.lower() != "authorization"},
                 "bearer": bool(bearer), "token_ok": bool(bearer) and (self.token is None or bearer == self.token)}
        with self._lock:
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # writes (tests/emulator/writes.py) answer first when a request hook is installed
            hooked = None if self.request_hook is None else self.request_hook(
                h.command, path, split.path, query, h.headers, raw_body, entry["token_ok"])
            status, body, headers = (*hooked, {}) if hooked is not None else \
                self._answer(h, path, split.path, query, qlow, entry, raw_body)
        finally:
            with self._lock:
                self.in_flight -= 1
        entry["status"] = status
        if status is None:  # reset
            return
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _answer(self, h, path, raw_path, query, qlow, entry, raw_body):
        if path == IDENTITY_PATH and self.identity_header is not None and h.command == "GET":
            return self._identity(h, qlow)
        if path == METADATA_PATH and h.command == "GET":  # ARM's cloud metadata (`az cloud register` reads it)
            return 200, self.cloud_metadata(), {}
        if not entry["token_ok"]:
            return _err(401, "The access token is missing or invalid.")
        if path.startswith("/v1.0/") and h.command == "POST" and path == GRAPH_GET_BY_IDS:
            return 200, {"value": []}, {}   # Microsoft Graph (az fills in principal names): no directory objects
        if "api-version" not in qlow:
            return _err(400, "The api-version query parameter (?api-version=) is required for all requests.",
                        "MissingApiVersionParameter")
        if h.command not in ("GET", "POST") or (h.command == "POST" and path not in self.post_routes):
            return _err(405, f"{h.command} is not supported by the emulator")
        headers: dict[str, str] = {}
        sub = path.split("/")[2] if path.startswith("/subscriptions/") else "tenant"
        if self.throttle is not None and not (h.command == "POST" and path in self.post_routes):
            wait, left = self.throttle.take(sub)  # Resource Graph's POSTs have their own quota
            if wait:
                return _err(429, "Number of read requests exceeded the limit.", extra={
                    "Retry-After": str(max(1, math.ceil(wait))),
                    "x-ms-ratelimit-remaining-subscription-reads": "0"})
            headers["x-ms-ratelimit-remaining-subscription-reads"] = str(left)
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            fault = next((f for f in self.faults if f.fires(path)), None)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.reset:
                _reset(h)
                return None, b"", {}
            if fault.malformed:
                return 200, b'{"value": [{"id": "/subscriptions/', headers
            if fault.status is not None:
                extra = {"Retry-After": _fmt(fault.retry_after)} if fault.retry_after is not None else {}
                return _err(fault.status, fault.message or f"injected {fault.status}", fault.code or None, extra)
        if h.command == "POST":
            body = json.loads(raw_body or b"null")
            out = self.post_routes[path](self, query, body)
            if len(out) > 2:  # a route may answer headers too
                headers.update(out[2])
            return out[0], out[1], headers
        return (*self._get(path, raw_path, query, qlow), headers)

    def cloud_metadata(self) -> dict:
        """``GET /metadata/endpoints``: a cloud whose every endpoint is this emulator (loopback only)."""
        u = self.url
        return {"name": "ArmEmulator", "portal": u, "resourceManager": u + "/", "gallery": u + "/",
                "sqlManagement": u + "/", "graph": u + "/", "graphAudience": u + "/", "microsoftGraphResourceId": u + "/",
                "authentication": {"loginEndpoint": u, "audiences": [u + "/"], "tenant": "common",
                                   "identityProvider": "AAD"},
                "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net",
                             "sqlServerHostname": "database.windows.net", "acrLoginServer": "azurecr.io"}}

    def _identity(self, h, qlow: dict):
        """App Service managed identity: the token for ``resource`` when ``X-IDENTITY-HEADER`` is the secret."""
        if h.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return _err(401, "X-IDENTITY-HEADER is missing or wrong.")
        if not qlow.get("resource"):
            return _err(400, "resource is required.")
        return 200, {"access_token": self.token, "expires_on": str(int(time.time()) + 3600),
                     "resource": qlow["resource"], "token_type": "Bearer",
                     "client_id": "00000000-0000-4000-8000-00000000c11d"}, {}

    def _get(self, path: str, raw_path: str, query: dict, qlow: dict) -> tuple[int, Any]:
        skip = next((v for k, v in qlow.items() if k == "$skiptoken"), None)
        if path in self.canned:
            return 200, ({"value": []} if skip is not None else self.canned[path])
        obj = self.by_id.get(path)
        if obj is None and type_from_id(path) == ROLE_DEFINITIONS:  # the same role at any scope
            guid = path.rsplit("/", 1)[-1]
            obj = next((o for (k, _), objs in self.index.items() if k == ROLE_DEFINITIONS for o in objs
                        if o["id"].lower().endswith("/" + guid)), None)
        if obj is None and path.startswith(MG_PREFIX) and path.count("/") == 4 and (
                path in self.mg_parent or path in set(self.mg_parent.values())):
            obj = self._group(path)   # a group the estate holds only inside another's children
        if obj is not None:
            return 200, obj
        items = self._collection(path, qlow)
        if items is None:
            return _err(404, f"The resource '{raw_path}' was not found.")[:2]
        start = int(skip or 0)
        page = {"value": items[start:start + self.page_size]}
        if start + self.page_size < len(items):
            rest = [(k, v) for k, v in query.items() if k.lower() != "$skiptoken"]
            page["nextLink"] = f"{self.url}{raw_path}?{urlencode(rest + [('$skiptoken', start + self.page_size)])}"
        return 200, page

    def _collection(self, path: str, qlow: dict) -> list[dict] | None:
        segs = path.strip("/").split("/")
        if path == "/subscriptions":
            return list(self.index.get((SUBSCRIPTIONS, "/"), []))
        if segs[-1] == "resources" and (len(segs) == 3 or (len(segs) == 5 and segs[2] == "resourcegroups")):
            # Resources_List (what `az keyvault list` reads): $filter resourceType eq '<type>', no properties
            m = re.search(r"resourceType\s+eq\s+'([^']+)'", qlow.get("$filter", ""), re.I)
            if not m:
                return None
            return [_generic(o) for o in self.index.get((m.group(1).lower(), "/" + "/".join(segs[:-1])), [])]
        if "providers" not in segs:
            return None
        i = len(segs) - 1 - segs[::-1].index("providers")
        rest = segs[i + 1:]
        if len(rest) < 2 or len(rest) % 2:  # no type, or names a single resource that is not there
            return None
        ctype = "/".join([rest[0], *rest[1::2]])
        if ctype == MANAGEMENT_GROUPS + "/descendants" and len(rest) == 4:
            group = "/" + "/".join(segs[:-1])
            return self._descendants(group) if group in self.by_id or group in set(self.mg_parent.values()) else None
        if len(rest) == 2:
            scope = "/" + "/".join(segs[:i]) if i else "/"
        else:
            scope = "/" + "/".join(segs[:-1])
            if ctype not in COLLECTION_ALIASES and scope not in self.by_id:
                return None  # ParentResourceNotFound
        if ctype == EVENTS:
            scope = "/" + "/".join(segs[:2])
        kinds = COLLECTION_ALIASES.get(ctype, {ctype})
        items = [o for k in kinds for o in self.index.get((k, scope), [])]
        if ctype == ROLE_ASSIGNMENTS and scope.startswith("/subscriptions/"):
            items += self.inherited
        if ctype == POLICY_ASSIGNMENTS:
            items = self._policy_filter(scope, items, qlow.get("$filter", ""))
        if ctype == EVENTS:
            items = self._events(items, qlow.get("$filter", ""), qlow.get("$select", ""))
        elif ctype in COLLECTION_ALIASES:
            items = self._by_management_type(items, qlow.get("$filter", ""))
        return items

    @staticmethod
    def _by_management_type(items: list[dict], flt: str) -> list[dict]:
        """Recovery Services lists filtered server-side by ``backupManagementType eq '<type>'`` (any case)."""
        m = re.search(r"backupManagementType\s+eq\s+'([^']+)'", flt, re.I)
        if not m:
            return items
        want = m.group(1).lower()
        return [o for o in items if str((o.get("properties") or {}).get("backupManagementType", "")).lower() == want]

    def _events(self, items: list[dict], flt: str, select: str) -> list[dict]:
        m = re.search(r"resourceProvider eq '([^']+)'", flt, re.I)
        if m:
            rp = m.group(1).lower()
            items = [e for e in items if str((e.get("resourceProviderName") or {}).get("value", "")).lower() == rp
                     or str((e.get("operationName") or {}).get("value", "")).lower().startswith(rp + "/")]
        for op, keep in (("ge", lambda t, b: t >= b), ("le", lambda t, b: t <= b)):
            m = re.search(rf"eventTimestamp {op} '([^']+)'", flt, re.I)
            if m and self.event_time_filter:
                bound = _ts(m.group(1))
                items = [e for e in items if keep(_ts(e.get("eventTimestamp", "")), bound)]
        if select:
            fields = [f.strip() for f in select.split(",") if f.strip()]
            items = [{k: e[k] for k in fields if k in e} for e in items]
        return items

    # -- published examples ---------------------------------------------------------------------------------------
    def serve_example(self, path: str, example: str | Path) -> dict:
        """Serve a published example's ``responses.200.body`` verbatim at ``path``, its ``nextLink`` rewritten to
        point at the emulator (the page it names answers an empty last page)."""
        body = json.loads(Path(example).read_text())["responses"]["200"]["body"]
        if isinstance(body.get("nextLink"), str):
            link = urlsplit(body["nextLink"])
            body = {**body, "nextLink": f"{self.url}{link.path}?{link.query}"}
        self.canned[_norm(path)] = body
        return body

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0


# ---------------------------------------------------------------------------------------------------------------
# Resource Graph
# ---------------------------------------------------------------------------------------------------------------

GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
NOT_IN_GRAPH = {EVENTS, PROVIDERS, "microsoft.network/privateendpoints/privatednszonegroups",
                "microsoft.recoveryservices/vaults/backupstorageconfig"}
_KQL = re.compile(r"^\s*(\w+)\s*\|\s*where\s+type\s*(?:=~|==|in~)\s*(\([^)]*\)|'[^']*')"
                  r"\s*(?:\|\s*order\s+by\s+id\s+asc\s*)?$", re.I)


def graph_table(kind: str) -> str | None:
    """The Resource Graph table an object kind is in (None: Resource Graph does not hold it)."""
    if kind in NOT_IN_GRAPH or not kind:
        return None
    if kind in RECORD_TYPES:
        return "dnsresources"
    if kind.startswith("microsoft.recoveryservices/vaults/"):
        return "recoveryservicesresources"
    if kind.startswith("microsoft.authorization/"):
        return "authorizationresources"
    if kind == SUBSCRIPTIONS:
        return "resourcecontainers"
    return "resources"


class ResourceGraph:
    """``POST /providers/Microsoft.ResourceGraph/resources``: answers the tool's own queries (``<table> | where
    type =~ '<type>'`` or ``type in~ (...)``, optionally ``| order by id asc``; anything else is a 400) over the
    emulator's estate, as rows in Resource Graph's shape (lower-cased ``type``, ``subscriptionId``,
    ``resourceGroup``, ``tenantId`` and its other columns), restricted to the request's ``subscriptions``, sorted
    by id and paged by ``options.$top`` (default 100, at most 1000) / ``$skip`` / ``$skipToken``. Its per-user
    quota (``quota`` queries per ``window`` seconds, sliding) is reported in ``x-ms-user-quota-remaining`` /
    ``x-ms-user-quota-resets-after`` and enforced with 429s. ``install(emulator)`` plugs it in."""

    def __init__(self, quota: int | None = 15, window: float = 5.0):
        self.quota, self.window = quota, window
        self._times: list[float] = []
        self._lock = threading.Lock()
        self.queries: list[str] = []
        self.throttled = 0

    def install(self, emu: "Emulator") -> "ResourceGraph":
        emu.post_routes[GRAPH_PATH] = self
        return self

    def _quota(self) -> tuple[bool, dict]:
        if not self.quota:
            return True, {}
        with self._lock:
            now = time.monotonic()
            self._times = [t for t in self._times if t > now - self.window]
            ok = len(self._times) < self.quota
            if ok:
                self._times.append(now)
            reset = (self._times[0] + self.window - now) if self._times else 0.0
            left = self.quota - len(self._times)
        secs = max(0, math.ceil(reset))
        return ok, {"x-ms-user-quota-remaining": str(max(0, left)),
                    "x-ms-user-quota-resets-after": f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"}

    def __call__(self, emu: "Emulator", query: dict, body: Any):
        import base64

        ok, headers = self._quota()
        if not ok:
            self.throttled += 1
            return 429, {"error": {"code": "RateLimiting", "message": "Please provide below info when asking for "
                         "support: the user quota is exhausted."}}, {**headers, "Retry-After": str(max(1, _seconds_of(
                                                                        headers["x-ms-user-quota-resets-after"])))}
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {"error": {"code": "BadRequest", "message": "The request has no query."}}, headers
        m = _KQL.match(body["query"])
        if m is None:
            return 400, {"error": {"code": "InvalidQuery", "message": f"The emulator does not understand "
                                   f"{body['query']!r}."}}, headers
        self.queries.append(body["query"])
        table = m.group(1).lower()
        kinds = {t.lower() for t in re.findall(r"'([^']*)'", m.group(2))}
        subs = body.get("subscriptions")
        wanted = {str(s).lower() for s in subs} if isinstance(subs, list) else None
        tenants = {k.rsplit("/", 1)[-1]: o.get("tenantId") for k, o in emu.by_id.items() if _SUB_ID.match(k)}
        rows = []
        for kind in sorted(kinds):
            if graph_table(kind) != table:
                continue
            for o in emu.index.get((kind, "/"), []):
                segs = o["id"].split("/")
                sub = segs[2] if len(segs) > 2 and segs[1].lower() == "subscriptions" else ""
                if wanted is not None and sub.lower() not in wanted:
                    continue
                rows.append(_graph_row(o, kind, sub, tenants.get(sub.lower())))
        rows.sort(key=lambda r: r["id"].lower())
        opts = body.get("options") or {}
        top = min(1000, int(opts.get("$top") or 100))
        offset = int(opts.get("$skip") or 0)
        if opts.get("$skipToken"):
            try:
                offset = int(json.loads(base64.b64decode(opts["$skipToken"]))["offset"])
            except (ValueError, KeyError, TypeError):
                return 400, {"error": {"code": "BadRequest", "message": "Invalid $skipToken."}}, headers
        page = rows[offset:offset + top]
        answer = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false", "facets": [],
                  "data": page}
        if offset + top < len(rows):
            answer["$skipToken"] = base64.b64encode(json.dumps({"offset": offset + top}).encode()).decode()
        return 200, answer, headers


def _generic(obj: dict) -> dict:
    """A resource as ARM's resources listing prints it (GenericResourceExpanded without $expand): no properties."""
    return {k: obj[k] for k in ("id", "name", "type", "kind", "location", "tags", "sku", "identity") if k in obj}


def _hierarchy(obj: dict, parent_of: dict, names: dict) -> None:
    """Child -> parent edges of a management group object (``details.parent``, nested ``children``) or of a
    subscription as the descendants API lists it (``properties.parent``)."""
    rid = _norm(obj["id"])
    props = obj.get("properties") if isinstance(obj.get("properties"), dict) else obj
    names[rid] = props.get("displayName") or obj.get("name") or rid.rsplit("/", 1)[-1]
    parent = ((props.get("details") or {}).get("parent") or props.get("parent") or {}).get("id")
    if isinstance(parent, str) and parent:
        parent_of.setdefault(rid, _norm(parent))

    def walk(children, under):
        for c in children or []:
            if isinstance(c, dict) and isinstance(c.get("id"), str):
                cid = _norm(c["id"])
                parent_of.setdefault(cid, under)
                names.setdefault(cid, c.get("displayName") or c.get("name") or cid.rsplit("/", 1)[-1])
                walk(c.get("children"), cid)
    walk(props.get("children"), rid)


def _seconds_of(hms: str) -> int:
    h, m, sec = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + sec


def _graph_row(o: dict, kind: str, sub: str, tenant: Any) -> dict:
    segs = o["id"].split("/")
    rg = segs[4] if len(segs) > 4 and segs[3].lower() == "resourcegroups" else ""
    row = {"id": o["id"], "name": o.get("name", segs[-1]), "type": kind, "tenantId": tenant or "",
           "kind": o.get("kind", ""), "location": o.get("location", ""), "resourceGroup": rg,
           "subscriptionId": sub, "managedBy": o.get("managedBy", ""), "sku": o.get("sku"), "plan": o.get("plan"),
           "properties": o.get("properties"), "tags": o.get("tags"), "identity": o.get("identity"),
           "zones": o.get("zones"), "extendedLocation": o.get("extendedLocation")}
    return row


def example_objects(directory: str | Path) -> list[dict]:
    """The ARM objects (with ids) in the published examples' ``responses.200.body`` (single objects and
    ``value`` lists; Resource Graph ``data`` rows are left out)."""
    out: list[dict] = []
    for f in sorted(Path(directory).glob("*.json")):
        body = json.loads(f.read_text()).get("responses", {}).get("200", {}).get("body")
        items = body.get("value") if isinstance(body, dict) and isinstance(body.get("value"), list) else [body]
        out.extend(o for o in items if isinstance(o, dict) and isinstance(o.get("id"), str))
    return out


def _ts(s: str) -> datetime:
    s = str(s).strip().replace("Z", "+00:00")
    m = re.match(r"(.*\.\d{6})\d*(.*)", s)  # ARM sends 7 fractional digits
    if m:
        s = m.group(1) + m.group(2)
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return d if d.tzinfo else d.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _err(status: int, message: str, code: str | None = None, extra: dict | None = None):
    return status, {"error": {"code": code or ERROR_CODES.get(status, "Error"), "message": message}}, extra or {}


def _reset(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
    except OSError:
        pass
