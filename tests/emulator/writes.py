"""The writes the remediation plan makes, applied to the estate the emulator serves (tests only).

``Writable(emulator).install()`` makes an :class:`~tests.emulator.server.Emulator` accept, besides its reads:

* ``PUT  .../privateDnsZones/<zone>/A/<name>``: create or replace an A record set (201 created / 200 replaced);
* ``PUT  .../privateDnsZones/<zone>/virtualNetworkLinks/<name>``: create or replace a VNet link (a VNet can be linked
  to one zone of a name only: 409 ``Conflict`` otherwise);
* ``GET|PUT .../Microsoft.RecoveryServices/vaults/<v>/privateEndpointConnections/<name>``: the vault's own connection;
  the PUT sets its state (and, as ARM does, the endpoint side's state of that connection);
* ``PATCH .../Microsoft.RecoveryServices/vaults/<v>``: merge ``properties`` (e.g. ``publicNetworkAccess``) and
  ``identity`` (a system-assigned identity gets a new principal in the subscription's tenant);
* ``PUT  <scope>/providers/Microsoft.Authorization/roleAssignments/<name>``: 201, or 409 ``RoleAssignmentExists``
  when the principal already holds that role at that scope under another name;
* ``POST /subscriptions/<s>/providers/<namespace>/register``: the provider becomes ``Registered`` and a succeeded
  ``<namespace>/register/action`` event joins the activity log;
* the App Service managed-identity token endpoint (``GET /msi/token`` with ``X-IDENTITY-HEADER``), through which
  ``az login --identity`` logs in (``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER``).

Answers have the shapes ARM returns (REST specs' examples: RecordSets CreateOrUpdate, VirtualNetworkLinks
CreateOrUpdate, RecoveryServices PrivateEndpointConnection PUT, Vaults Update, RoleAssignments Create, Providers
Register). Any other PUT/PATCH/POST/DELETE is refused (405) and, like every request, logged in
``emulator.requests``; :meth:`Writable.writes` lists the accepted ones.
"""
from __future__ import annotations

import copy
import json
import re
import time
import uuid
from datetime import datetime, timezone
import threading

from .server import _norm

MSI_PATH = "/msi/token"
METADATA_PATH = "/metadata/endpoints"
LINK_TYPE = "microsoft.network/privatednszones/virtualnetworklinks"
AUDIENCE = "https://management.core.windows.net/"
_RECORD = re.compile(r"^(?P<zone>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/"
                     r"privatednszones/[^/]+)/a/(?P<name>[^/]+)$")
_LINK = re.compile(r"^(?P<zone>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/"
                   r"privatednszones/[^/]+)/virtualnetworklinks/(?P<name>[^/]+)$")
_CONN = re.compile(r"^(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/"
                   r"vaults/[^/]+)/privateendpointconnections/(?P<name>[^/]+)$")
_VAULT = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+$")
_ROLE = re.compile(r"^(?P<scope>/.*?)/providers/microsoft\.authorization/roleassignments/(?P<name>[^/]+)$")
_REGISTER = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/(?P<ns>[^/]+)/register$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _err(status: int, code: str, message: str):
    return status, {"error": {"code": code, "message": message}}


class Writable:
    """Plugs the writes above into an emulator (``install``); ``token`` is what the identity endpoint hands out."""

    def __init__(self, emulator, token: str | None = None, identity_header: str = "emulator-identity-header"):
        self.emu = emulator
        self.token = token or emulator.token or "emulator-token"
        self.identity_header = identity_header
        self._lock = threading.Lock()   # one write at a time (the emulator's own lock guards its indexes)

    def install(self) -> "Writable":
        self.emu.request_hook = self.handle
        return self

    # ------------------------------------------------------------------------------------------------------
    def writes(self) -> list[dict]:
        """Every write asked of the emulator (accepted or refused), in order: its request log entries (method,
        path, body, status), Resource Graph queries (POST, but reads) left out."""
        return [r for r in self.emu.requests if r["method"] in ("PUT", "PATCH", "POST", "DELETE")
                and not r["path"].lower().startswith("/providers/microsoft.resourcegraph")]

    def handle(self, method: str, path: str, raw_path: str, query: dict, headers, body: bytes, token_ok: bool):
        """The emulator's request hook: an answer (status, body) or None to let the emulator answer."""
        if not getattr(self.emu, "_identity", None):  # an emulator that does not speak these two itself
            if path == MSI_PATH:
                return self._msi(query, headers)
            if path == METADATA_PATH and method == "GET":
                return 200, self.cloud_metadata()
        if not token_ok:
            return None  # the emulator answers 401
        if method == "GET":
            m = _CONN.match(path)
            return self._get_conn(m) if m else None
        if method not in ("PUT", "PATCH", "POST", "DELETE") or "api-version" not in {k.lower() for k in query}:
            return None
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            return _err(400, "InvalidRequestContent", "The request content is not valid JSON.")
        with self._lock:
            for pattern, meth, fn in ((_RECORD, "PUT", self._put_record), (_LINK, "PUT", self._put_link),
                                      (_CONN, "PUT", self._put_conn), (_VAULT, "PATCH", self._patch_vault),
                                      (_ROLE, "PUT", self._put_role), (_REGISTER, "POST", self._register)):
                m = pattern.match(path)
                if m and method == meth:
                    return fn(m, raw_path, doc)
        return None  # the emulator refuses it (405)

    def cloud_metadata(self) -> dict:
        """``GET /metadata/endpoints`` (what ``az cloud register --endpoint-resource-manager`` reads): the emulator
        is the cloud's ARM and login endpoint."""
        url = self.emu.url + "/"
        return {"name": "AzureCloud", "resourceManager": url, "portal": url, "gallery": url, "graph": url,
                "graphAudience": url, "microsoftGraphResourceId": url, "batch": url, "media": url, "sqlManagement": url,
                "authentication": {"loginEndpoint": url, "audiences": [AUDIENCE, "https://management.azure.com/"],
                                   "tenant": "common", "identityProvider": "AAD"},
                "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net",
                             "sqlServerHostname": "database.windows.net", "acrLoginServer": "azurecr.io"}}

    # ------------------------------------------------------------------------------------------------------
    def _msi(self, query: dict, headers):
        if headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return _err(401, "Unauthorized", "missing or wrong X-IDENTITY-HEADER")
        resource = query.get("resource") or query.get("scope") or ""
        return 200, {"access_token": self.token, "expires_on": str(int(time.time()) + 3600), "resource": resource,
                     "token_type": "Bearer", "client_id": "00000000-0000-0000-0000-00000000c11e"}

    def _add(self, obj: dict) -> None:
        """A new object: the estate is indexed again (the emulator's one object per id)."""
        objects = [o for k, o in self.emu.by_id.items() if k != _norm(obj["id"])]
        self.emu.by_id = {}
        self.emu.set_estate(objects + [obj])

    def _put_record(self, m, raw_path: str, doc):
        zone = self.emu.by_id.get(m["zone"])
        if zone is None:
            return _err(404, "ParentResourceNotFound", f"The private DNS zone {m['zone']} was not found.")
        props = (doc or {}).get("properties") or {}
        name = raw_path.rstrip("/").rsplit("/", 1)[-1]
        existing = self.emu.by_id.get(_norm(raw_path))
        obj = {"id": existing["id"] if existing else raw_path.rstrip("/"), "name": name,
               "type": "Microsoft.Network/privateDnsZones/A", "etag": str(uuid.uuid4()),
               "properties": {"ttl": props.get("ttl", 3600), "fqdn": f"{name}.{zone.get('name', '')}.",
                              "isAutoRegistered": False, "aRecords": [
                                  {"ipv4Address": r["ipv4Address"]} for r in props.get("aRecords") or []
                                  if isinstance(r, dict) and r.get("ipv4Address")]}}
        self._add(obj)
        return (200 if existing else 201), obj

    def _put_link(self, m, raw_path: str, doc):
        zone = self.emu.by_id.get(m["zone"])
        if zone is None:
            return _err(404, "ParentResourceNotFound", f"The private DNS zone {m['zone']} was not found.")
        props = (doc or {}).get("properties") or {}
        vnet = ((props.get("virtualNetwork") or {}).get("id") or "")
        if not vnet:
            return _err(400, "BadRequest", "properties.virtualNetwork.id is required.")
        existing = self.emu.by_id.get(_norm(raw_path))
        zname = str(zone.get("name", "")).lower()
        for o in self.emu.by_id.values():
            if o is existing or str(o.get("type", "")).lower() != LINK_TYPE:
                continue
            other = ((o.get("properties") or {}).get("virtualNetwork") or {}).get("id", "")
            if other.lower() == vnet.lower() and o["id"].lower().split("/virtualnetworklinks/")[0].endswith(
                    "/privatednszones/" + zname):
                return _err(409, "Conflict", f"A virtual network cannot be linked to multiple zones with overlapping "
                                             f"namespaces: {vnet} is already linked to a zone named {zname}.")
        name = raw_path.rstrip("/").rsplit("/", 1)[-1]
        obj = {"id": existing["id"] if existing else raw_path.rstrip("/"), "name": name,
               "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "etag": str(uuid.uuid4()),
               "location": "global", "tags": (doc or {}).get("tags") or {},
               "properties": {"virtualNetwork": {"id": vnet},
                              "registrationEnabled": bool(props.get("registrationEnabled", False)),
                              "virtualNetworkLinkState": "Completed", "provisioningState": "Succeeded"}}
        self._add(obj)
        return (200 if existing else 201), obj

    def _find_conn(self, m):
        vault = self.emu.by_id.get(m["vault"])
        if vault is None:
            return None, None
        for c in (vault.get("properties") or {}).get("privateEndpointConnections") or []:
            if isinstance(c, dict) and str(c.get("id", "")).rstrip("/").rsplit("/", 1)[-1].lower() == m["name"]:
                return vault, c
        return vault, None

    def _conn_body(self, vault: dict, c: dict) -> dict:
        body = copy.deepcopy(c)
        body.setdefault("name", str(c.get("id", "")).rsplit("/", 1)[-1])
        body.setdefault("type", "Microsoft.RecoveryServices/vaults/privateEndpointConnections")
        body.setdefault("location", vault.get("location"))
        body.setdefault("properties", {}).setdefault("provisioningState", "Succeeded")
        return body

    def _get_conn(self, m):
        vault, c = self._find_conn(m)
        if c is None:
            return _err(404, "ResourceNotFound", "The private endpoint connection was not found.")
        return 200, self._conn_body(vault, c)

    def _put_conn(self, m, raw_path: str, doc):
        vault, c = self._find_conn(m)
        if c is None:
            return _err(404, "ResourceNotFound", "The private endpoint connection was not found.")
        state = ((doc or {}).get("properties") or {}).get("privateLinkServiceConnectionState") or {}
        status = state.get("status")
        if status not in ("Approved", "Rejected", "Pending", "Disconnected"):
            return _err(400, "BadRequest", f"invalid status {status!r}")
        old = ((c.get("properties") or {}).get("privateLinkServiceConnectionState") or {}).get("status", "")
        if old.lower() in ("rejected", "disconnected") and status == "Approved":
            return _err(400, "BadRequest", f"a {old} connection cannot be approved")
        cp = c.setdefault("properties", {})
        cp["privateLinkServiceConnectionState"] = {"status": status, "description": state.get("description") or "",
                                                   "actionsRequired": "None"}
        cp["provisioningState"] = "Succeeded"
        # the endpoint side follows the vault's answer
        pe = self.emu.by_id.get(_norm(((cp.get("privateEndpoint") or {}).get("id")) or "/none"))
        if pe is not None:
            for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
                for pc in (pe.get("properties") or {}).get(key) or []:
                    pp = pc.get("properties") or {}
                    if _norm(str(pp.get("privateLinkServiceId", ""))) == m["vault"]:
                        pp["privateLinkServiceConnectionState"] = {"status": status, "description": state.get(
                            "description") or "", "actionsRequired": "None"}
        return 200, self._conn_body(vault, c)

    def _patch_vault(self, m, raw_path: str, doc):
        vault = self.emu.by_id.get(_norm(raw_path))
        if vault is None:
            return _err(404, "ResourceNotFound", f"The vault {raw_path} was not found.")
        doc = doc or {}
        for k, v in (doc.get("properties") or {}).items():
            if v is not None:
                vault.setdefault("properties", {})[k] = v
        if isinstance(doc.get("tags"), dict):
            vault["tags"] = doc["tags"]
        ident = doc.get("identity")
        if isinstance(ident, dict) and ident.get("type"):
            parts = {p.strip().lower() for p in str(ident["type"]).split(",")}
            system, user = "systemassigned" in parts, "userassigned" in parts
            cur = vault.get("identity") or {}
            if not (system or user):
                vault.pop("identity", None)
            else:
                new = {"type": ", ".join(t for t, on in (("SystemAssigned", system), ("UserAssigned", user)) if on)}
                if system:
                    had = "systemassigned" in str(cur.get("type", "")).lower().replace(" ", "").split(",")
                    new["principalId"] = cur["principalId"] if had and cur.get("principalId") else str(uuid.uuid4())
                    new["tenantId"] = cur["tenantId"] if had and cur.get("tenantId") else self._tenant(m.group(0))
                if user:
                    new["userAssignedIdentities"] = {**(cur.get("userAssignedIdentities") or {}),
                                                     **(ident.get("userAssignedIdentities") or {})}
                vault["identity"] = new
        return 200, vault

    def _tenant(self, rid: str) -> str:
        sub = self.emu.by_id.get("/subscriptions/" + rid.split("/")[2]) or {}
        return sub.get("homeTenantId") or sub.get("tenantId") or "00000000-0000-0000-0000-0000000000aa"

    def _put_role(self, m, raw_path: str, doc):
        props = (doc or {}).get("properties") or {}
        role, principal = props.get("roleDefinitionId"), props.get("principalId")
        if not role or not principal:
            return _err(400, "InvalidRoleAssignmentRequest", "roleDefinitionId and principalId are required.")
        scope = raw_path.rstrip("/")[: -len("/providers/Microsoft.Authorization/roleAssignments/") -
                                      len(raw_path.rstrip("/").rsplit("/", 1)[-1])]
        guid = role.rstrip("/").rsplit("/", 1)[-1].lower()
        existing = self.emu.by_id.get(_norm(raw_path))
        for o in self.emu.by_id.values():
            if str(o.get("type", "")).lower() != "microsoft.authorization/roleassignments" or o is existing:
                continue
            op = o.get("properties") or {}
            if (str(op.get("principalId", "")).lower() == principal.lower()
                    and str(op.get("roleDefinitionId", "")).lower().rstrip("/").endswith("/" + guid)
                    and _norm(str(op.get("scope", ""))) == _norm(scope)):
                return _err(409, "RoleAssignmentExists", "The role assignment already exists.")
        obj = {"id": raw_path.rstrip("/"), "name": raw_path.rstrip("/").rsplit("/", 1)[-1],
               "type": "Microsoft.Authorization/roleAssignments",
               "properties": {"roleDefinitionId": role, "principalId": principal,
                              "principalType": props.get("principalType") or "ServicePrincipal", "scope": scope,
                              "condition": props.get("condition"), "conditionVersion": props.get("conditionVersion"),
                              "createdOn": _now(), "updatedOn": _now(), "createdBy": None, "updatedBy": None,
                              "delegatedManagedIdentityResourceId": None, "description": props.get("description")}}
        self._add(obj)
        return 201, obj

    def _register(self, m, raw_path: str, doc):
        sub, ns = m["sub"], m["ns"]
        pid = _norm(f"/subscriptions/{sub}/providers/{ns}")
        prov = self.emu.by_id.get(pid)
        raw_sub = raw_path.split("/")[2]
        raw_ns = raw_path.split("/")[4]
        if prov is None:
            prov = {"id": f"/subscriptions/{raw_sub}/providers/{raw_ns}", "namespace": raw_ns,
                    "registrationState": "Registered", "registrationPolicy": "RegistrationRequired",
                    "resourceTypes": []}
            self._add(prov)
        prov["registrationState"] = "Registered"
        event = {"id": f"/subscriptions/{raw_sub}/providers/{raw_ns}/events/{uuid.uuid4()}/ticks/"
                       f"{int(time.time() * 1e7)}",
                 "eventTimestamp": _now(), "submissionTimestamp": _now(), "subscriptionId": raw_sub,
                 "operationName": {"value": f"{raw_ns}/register/action",
                                   "localizedValue": "Registers the Resource Provider"},
                 "resourceProviderName": {"value": raw_ns, "localizedValue": raw_ns},
                 "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
                 "category": {"value": "Administrative", "localizedValue": "Administrative"},
                 "level": "Informational", "caller": "remediation-plan"}
        self._add(event)
        return 200, prov
