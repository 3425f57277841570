"""The DNS lookups for ``auditor audit --resolve`` (rule DNS-007).

Resolves many FQDNs concurrently (asyncio + dnspython) against given DNS servers or the
system resolver configuration, follows CNAME chains (as Azure's public names do:
``acct.blob.core.windows.net`` -> ``acct.privatelink.blob.core.windows.net`` -> A) and
returns one row per distinct name. The run is bounded: a server that has answered nothing
at all is detected after the first round of queries (``timeout * (retries + 1)``) and the
names still waiting are marked ``unreachable`` without being sent.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import Iterable

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pandas as pd

MAX_CHAIN = 8  # CNAME hops followed at most
COLUMNS = ["fqdn", "server", "status", "addresses", "chain", "detail"]
STATUSES = ("ok", "nxdomain", "noanswer", "unreachable", "error")

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$")


def parse_server(text: str) -> tuple[str, int]:
    """Parse ``HOST[:PORT]`` as given to ``--dns-server``.

    Accepts ``10.0.0.4``, ``10.0.0.4:5353``, ``[::1]:53``, ``[::1]``, a bare IPv6 address
    (``::1``, port 53) and host names (``dns.corp.example:53``). Raises ValueError otherwise.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("DNS server: empty value (expected HOST[:PORT], e.g. 10.0.0.4 or 10.0.0.4:5353 or [::1]:53)")
    s = text.strip()
    port_text = None
    if s.startswith("["):
        m = re.fullmatch(r"\[([^\]]+)\](?::([^:]*))?", s)
        if not m:
            raise ValueError(f"DNS server {text!r}: expected [IPv6] or [IPv6]:PORT")
        host, port_text = m.group(1), m.group(2)
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise ValueError(f"DNS server {text!r}: {host!r} is not an IPv6 address") from None
    elif s.count(":") > 1:  # bare IPv6, no port
        host = s
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise ValueError(f"DNS server {text!r}: not an IPv6 address (write [IPv6]:PORT to give a port)") from None
    else:
        host, _, port_text = s.partition(":")
        if not _:
            port_text = None
        if not host:
            raise ValueError(f"DNS server {text!r}: missing host")
        if re.fullmatch(r"[0-9.]+", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"DNS server {text!r}: {host!r} is not a valid IPv4 address") from None
        elif not _HOSTNAME.match(host):
            raise ValueError(f"DNS server {text!r}: {host!r} is not a valid IP address or host name")
    if port_text is None:
        return host, 53
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"DNS server {text!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def _label(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class _Server:
    address: str  # IP literal
    port: int
    label: str
    answered: bool = False  # any response (any rcode) in this run
    dead: bool = False  # a whole round of tries went unanswered before it ever answered


@dataclass
class _Reply:
    server: _Server | None
    msg: dns.message.Message | None = None
    tries: int = 0
    failure: str = ""  # why there is no msg
    error: bool = False  # failure is an error response (SERVFAIL, REFUSED, ...), not silence


@dataclass
class _Row:
    fqdn: str
    server: str = ""
    status: str = ""
    addresses: tuple = ()
    chain: tuple = ()
    detail: str = ""
    silent: bool = field(default=False, repr=False)  # no response: noanswer or unreachable, decided at the end


def _norm(fqdn) -> str:
    return str(fqdn).strip().lower().rstrip(".")


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _system_servers() -> list[tuple[str, int]]:
    try:
        res = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return []
    out = []
    for ns in res.nameservers:
        if isinstance(ns, str):
            out.append((ns, res.nameserver_ports.get(ns, res.port)))
        elif getattr(ns, "kind", lambda: "")() == "Do53":  # dns.nameserver.Do53Nameserver
            out.append((ns.address, ns.port))
    return out


def _to_ip(host: str) -> str:
    try:
        ipaddress.ip_address(host.split("%")[0])
        return host
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError as e:
        raise ValueError(f"DNS server {host!r}: cannot resolve its name ({e})") from None
    return infos[0][4][0]


class FqdnResolver:
    """Resolves names against an ordered list of servers: bounded concurrency, retries, CNAME chains, dead-server
    detection (one instance per run)."""

    def __init__(self, servers: list[_Server], timeout: float, retries: int, concurrency: int):
        self.servers, self.timeout, self.retries = servers, timeout, max(0, retries)
        self.sem = asyncio.Semaphore(max(1, concurrency))

    async def ask(self, qname: dns.name.Name) -> _Reply:
        """Query A for qname: rounds of retries+1, each asking every live server in order."""
        q = dns.message.make_query(qname, dns.rdatatype.A)
        candidates = list(self.servers)
        reply = _Reply(server=self.servers[0])
        silences = {id(s): 0 for s in candidates}
        other, err_server = "", None
        for _ in range(self.retries + 1):
            for s in list(candidates):
                if s.dead:
                    continue
                reply.server = s
                reply.tries += 1
                try:
                    msg, _tcp = await dns.asyncquery.udp_with_fallback(
                        q, s.address, timeout=self.timeout, port=s.port, ignore_unexpected=True)
                except dns.exception.Timeout:
                    silences[id(s)] += 1
                    continue
                except (OSError, EOFError) as e:  # refused port, reset TCP connection, ...
                    silences[id(s)] += 1
                    other = str(e) or type(e).__name__
                    continue
                except dns.exception.DNSException as e:  # malformed or mismatched response
                    s.answered = True
                    reply.failure, reply.error, err_server = f"bad response from {s.label}: {e}", True, s
                    candidates.remove(s)
                    continue
                s.answered = True
                rcode = msg.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    reply.msg, reply.failure, reply.error = msg, "", False
                    return reply
                reply.failure, reply.error, err_server = f"{dns.rcode.to_text(rcode)} from {s.label}", True, s
                candidates.remove(s)  # an error answer is not retried at the same server
            if not candidates:
                break
        # No usable answer. A server that never answered anything and let all the tries of a
        # name go unanswered is dead: the names still queued skip it (bounded run).
        for s in candidates:
            if silences[id(s)] == self.retries + 1 and not s.answered:
                s.dead = True
        if reply.error:
            reply.server = err_server  # the server that answered (with an error)
        else:
            if reply.tries == 0:
                reply.failure = "not asked: no response to earlier queries"
            elif other:
                reply.failure = f"no response after {reply.tries} tries (last: {other})"
            else:
                reply.failure = f"timeout after {reply.tries} tries"
        return reply

    async def resolve(self, fqdn: str) -> _Row:
        row = _Row(fqdn)
        try:
            if not fqdn:
                raise ValueError("empty name")
            start = dns.name.from_text(fqdn)
        except (dns.exception.DNSException, ValueError) as e:
            row.status, row.detail = "error", f"invalid name: {e}"
            return row
        chain = [start]
        async with self.sem:
            while True:
                cur = chain[-1]
                reply = await self.ask(cur)
                row.server = reply.server.label if reply.server else ""
                names = [_text(n) for n in chain]
                row.chain = tuple(names) if len(names) > 1 else ()
                via = f" for {names[-1]} via CNAME {' -> '.join(names)}" if len(names) > 1 else ""
                if reply.msg is None:
                    row.status = "error" if reply.error else ""
                    row.silent = not reply.error
                    row.detail = f"{reply.failure}{via}"
                    return row
                msg, hops = reply.msg, 0
                while True:  # walk the answer section from cur
                    a = msg.get_rrset(msg.answer, cur, dns.rdataclass.IN, dns.rdatatype.A)
                    if a:
                        row.addresses = tuple(sorted({r.address for r in a}, key=ipaddress.IPv4Address))
                        row.status = "ok"
                        arrow = f"CNAME {' -> '.join(names)} -> " if len(names) > 1 else "A "
                        more = len(row.addresses) - 4
                        row.detail = arrow + ", ".join(row.addresses[:4]) + (f", ... (+{more})" if more > 0 else "")
                        return row
                    c = msg.get_rrset(msg.answer, cur, dns.rdataclass.IN, dns.rdatatype.CNAME)
                    if not c:
                        break
                    target = c[0].target
                    if target in chain:
                        row.status = "error"
                        row.detail = f"CNAME loop: {' -> '.join(names + [_text(target)])} (from {row.server})"
                        return row
                    if len(chain) > MAX_CHAIN:
                        row.status = "error"
                        row.detail = f"CNAME chain longer than {MAX_CHAIN}: {' -> '.join(names)} -> ..."
                        return row
                    chain.append(target)
                    names.append(_text(target))
                    row.chain = tuple(names)
                    cur, hops = target, hops + 1
                via = f" for {names[-1]} via CNAME {' -> '.join(names)}" if len(names) > 1 else ""
                if msg.rcode() == dns.rcode.NXDOMAIN:
                    row.status, row.detail = "nxdomain", f"NXDOMAIN{via} from {row.server}"
                    return row
                if hops == 0:  # NOERROR and nothing (more) for this name
                    row.status, row.detail = "noanswer", f"NOERROR, no A record{via} from {row.server}"
                    return row
                # CNAME(s) without the final A (non-recursive / forwarding setup): ask for the target


async def _run(names: list[str], servers: list[_Server], timeout, retries, concurrency, lifetime) -> list[_Row]:
    resolver = FqdnResolver(servers, timeout, retries, concurrency)
    tasks = {n: asyncio.ensure_future(resolver.resolve(n)) for n in names}
    if tasks:
        _done, pending = await asyncio.wait(tasks.values(), timeout=lifetime)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    rows = []
    for n, t in tasks.items():
        if t.cancelled():
            rows.append(_Row(n, server=servers[0].label, silent=True,
                             detail=f"not resolved within the lifetime of {lifetime:g} s"))
        else:
            rows.append(t.result())
    return rows


def _finish(rows: list[_Row], servers: list[_Server], lifetime) -> pd.DataFrame:
    anyone = any(s.answered for s in servers)
    labels = ", ".join(s.label for s in servers) or "no DNS server configured"
    for r in rows:
        if r.silent:
            if not anyone:
                r.status = "unreachable"
                r.detail = f"no response from {labels} to any query in this run ({r.detail})" if servers else labels
            elif r.detail.startswith("not resolved within the lifetime"):
                r.status = "error"
            else:
                r.status, r.detail = "noanswer", f"{r.detail} ({r.server})"
    return pd.DataFrame([[r.fqdn, r.server, r.status, r.addresses, r.chain, r.detail] for r in rows],
                        columns=COLUMNS).astype({"fqdn": str, "server": str, "status": str, "detail": str})


def resolve_fqdns(fqdns: Iterable[str], *, servers: list[tuple[str, int]] | None = None, timeout: float = 2.0,
                  retries: int = 2, concurrency: int = 64, lifetime: float | None = None) -> pd.DataFrame:
    """Resolve the A records of ``fqdns``; one row per distinct name (lower-cased, no trailing dot).

    ``servers``: ``[(host, port), ...]`` asked in order (the next one when a server does not answer or
    answers SERVFAIL/REFUSED); ``None`` (or empty) = the system resolver configuration (/etc/resolv.conf).
    ``timeout``: seconds per query; ``retries``: extra rounds after the first; ``concurrency``: names
    resolved at once; ``lifetime``: optional wall-clock bound for the whole run (names not done by then
    are ``error``, or ``unreachable`` if no server answered anything).

    Columns: fqdn, server ("host:port" that answered, else asked last), status (ok | nxdomain | noanswer |
    unreachable | error), addresses (sorted tuple of IPv4 strings), chain (names followed through CNAMEs,
    starting with the fqdn; empty when there was no CNAME), detail (short text).
    """
    names = list(dict.fromkeys(_norm(f) for f in fqdns))
    pairs = list(servers) if servers else _system_servers()
    srv = [_Server(_to_ip(h), int(p), _label(h, int(p))) for h, p in pairs]
    if not srv:
        rows = [_Row(n, silent=True) for n in names]
        return _finish(rows, srv, lifetime)

    def run():
        return asyncio.run(_run(names, srv, timeout, retries, concurrency, lifetime))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        rows = run()
    else:  # called from inside an event loop: run ours in a worker thread
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            rows = ex.submit(run).result()
    return _finish(rows, srv, lifetime)
