"""Credentials, HTTP transport and the client pipeline.

Every client is built with an explicit policy list (:func:`policies`) that leaves out azure-mgmt-core's
``ARMAutoResourceProviderRegistrationPolicy`` (which would POST a provider registration on a 409) and its
``NetworkTraceLoggingPolicy`` (which logs unredacted headers when ``logging_enable`` is set): the tool only reads.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

from . import settings
from .pacing import BoundedRetry, PacePolicy, Pacer
from .settings import CLOUDS, CollectError



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


def policies(credential, scope: str, pacer: Pacer | None = None) -> list:
    """The pipeline every client gets: azure-mgmt-core's defaults minus provider auto-registration and the
    unredacted network trace; the raw-response hook sits outside the retries so it sees final answers only; the
    pacer sits inside them, so that every attempt waits for a token."""
    from azure.core.pipeline import policies as p
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    from .. import __version__

    return [p.RequestIdPolicy(), p.HeadersPolicy(), p.UserAgentPolicy(sdk_moniker=f"auditor/{__version__}"),
            p.ProxyPolicy(), p.CustomHookPolicy(), p.ContentDecodePolicy(), p.RedirectPolicy(), BoundedRetry(),
            *([PacePolicy(pacer)] if pacer is not None else []),
            ARMChallengeAuthenticationPolicy(credential, scope), p.DistributedTracingPolicy(),
            p.SensitiveHeaderCleanupPolicy(), ARMHttpLoggingPolicy()]


def transport(max_concurrency: int, connection_verify, arm: str | None = None):
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
    kw: dict[str, Any] = {"session": session, "session_owner": False, "read_timeout": settings.READ_TIMEOUT}
    if connection_verify is not None:
        kw["connection_verify"] = connection_verify
    return RequestsTransport(**kw), session

