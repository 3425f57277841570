"""``auditor audit --resolve`` (rule DNS-007): the DNS lookups and the attaching of their answers to the model.

``lookup``: the queries (asyncio + dnspython), :func:`resolve_fqdns` and :func:`parse_server`; ``attach``:
:func:`attach_resolution`, which resolves the endpoints' FQDNs and writes the verdicts onto the endpoints and FQDN
views. dnspython is imported only when this package is.
"""
from .attach import attach_resolution
from .lookup import COLUMNS, MAX_CHAIN, STATUSES, FqdnResolver, parse_server, resolve_fqdns

__all__ = ["attach_resolution", "resolve_fqdns", "parse_server", "FqdnResolver", "COLUMNS", "MAX_CHAIN", "STATUSES"]
