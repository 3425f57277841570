"""A small real DNS server for tests (UDP and TCP on 127.0.0.1, random free port), built on dnslib.

Zone data is a dict keyed by name (case-insensitive, trailing dot optional). Values:

    "10.0.0.5" or ["10.0.0.5", "10.0.0.6"]      A records
    {"A": [...]}                                  same
    {"CNAME": "target"}                           CNAME; the server chases it when it knows the target
                                                  (recursive-resolver style: CNAME + A in one answer)
    {"CNAME": "target", "chase": False}           CNAME-only answer: the client has to ask for the target
    "NXDOMAIN"   (also: any name not in the dict)
    "NODATA"     NOERROR with an empty answer
    "DROP"       never answered (query silently dropped)
    "SERVFAIL" / "REFUSED"                        that rcode

UDP answers larger than ``udplen`` (512) come back truncated (TC set, no records), so clients must
retry over TCP. Setting ``server.silent = True`` makes it drop every query. ``server.queries`` logs
``(name, qtype, "udp"|"tcp")`` for each query received.

    with DNSTestServer(records) as srv:          # srv.host, srv.port, srv.addr == (host, port)
        ...
    host, port, stop = start_dns_server(records) # same, as a plain triple
    host, port, stop = start_dead_server()       # bound UDP+TCP sockets that never reply
"""
from __future__ import annotations

import socket
import threading

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSError, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

RCODES = {"NXDOMAIN", "NODATA", "DROP", "SERVFAIL", "REFUSED"}


def _key(name) -> str:
    return str(name).lower().rstrip(".")


def _entry(value):
    """Normalise a zone-data value to a dict with one of: rcode | A | CNAME."""
    if isinstance(value, str) and value.upper() in RCODES:
        return {"rcode": value.upper()}
    if isinstance(value, str):
        return {"A": [value]}
    if isinstance(value, (list, tuple)):
        return {"A": list(value)}
    return dict(value)


class _Resolver:
    def __init__(self, owner: "DNSTestServer"):
        self.owner = owner

    def resolve(self, request, handler):
        owner = self.owner
        qname, qtype = _key(request.q.qname), QTYPE[request.q.qtype]
        with owner.lock:
            owner.queries.append((qname, qtype, handler.protocol))
        if owner.silent:
            raise DNSError("silent")  # dnslib's handler sends nothing on DNSError
        reply = request.reply()
        cur, seen = qname, set()
        while cur not in seen and len(seen) < 16:
            seen.add(cur)
            e = owner.records.get(cur)
            if e is None:
                reply.header.rcode = RCODE.NXDOMAIN
                break
            rc = e.get("rcode")
            if rc == "DROP":
                if cur == qname:
                    raise DNSError("drop")
                break
            if rc in ("NXDOMAIN", "SERVFAIL", "REFUSED"):
                if rc != "NXDOMAIN":
                    reply.rr = []
                reply.header.rcode = getattr(RCODE, rc)
                break
            if rc == "NODATA":
                break
            if "CNAME" in e:
                reply.add_answer(RR(cur, QTYPE.CNAME, rdata=CNAME(e["CNAME"]), ttl=60))
                if not e.get("chase", True):
                    break
                cur = _key(e["CNAME"])
                continue
            if qtype in ("A", "ANY"):
                for ip in e.get("A", []):
                    reply.add_answer(RR(cur, QTYPE.A, rdata=A(ip), ttl=60))
            if qtype in ("AAAA", "ANY"):
                for ip in e.get("AAAA", []):
                    reply.add_answer(RR(cur, QTYPE.AAAA, rdata=AAAA(ip), ttl=60))
            break
        return reply


class _Handler(DNSHandler):
    maxudp = 512

    def get_reply(self, data):
        reply = self.server.resolver.resolve(DNSRecord.parse(data), self)
        rdata = reply.pack()
        if self.protocol == "udp" and len(rdata) > self.maxudp:
            reply.rr, reply.auth, reply.ar = [], [], []
            reply.header.tc = 1  # keep the question, as real servers do
            rdata = reply.pack()
        return rdata


class DNSTestServer:
    def __init__(self, records: dict | None = None, host: str = "127.0.0.1", udplen: int = 512):
        self.records = {_key(k): _entry(v) for k, v in (records or {}).items()}
        self.host, self.port = host, 0
        self.silent = False
        self.queries: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        self._handler = type("Handler", (_Handler,), {"maxudp": udplen})
        self._servers: list[DNSServer] = []

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> "DNSTestServer":
        logger = DNSLogger(logf=lambda *_: None)
        resolver = _Resolver(self)
        for _attempt in range(20):  # UDP on a free port, then TCP on the same port
            udp = DNSServer(resolver, address=self.host, port=0, logger=logger, handler=self._handler)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(resolver, address=self.host, port=port, tcp=True, logger=logger, handler=self._handler)
            except OSError:
                udp.server.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for the test DNS server")
        self.port, self._servers = port, [udp, tcp]
        for s in self._servers:
            s.start_thread()
        return self

    def stop(self) -> None:
        for s in self._servers:
            s.server.shutdown()
            s.server.server_close()
        self._servers = []

    def count(self, proto: str | None = None) -> int:
        with self.lock:
            return sum(1 for q in self.queries if proto in (None, q[2]))

    def __enter__(self) -> "DNSTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_dns_server(records: dict, host: str = "127.0.0.1"):
    """Start a test DNS server; returns (host, port, stop)."""
    srv = DNSTestServer(records, host).start()
    return srv.host, srv.port, srv.stop


def closed_port(host: str = "127.0.0.1") -> int:
    """A UDP port with nothing bound, chosen below the kernel's ephemeral range: no socket of this run is given it by
    ``bind(0)``, so a query sent there is never received by the sending socket itself (a freed ephemeral port can
    be handed to the client's own socket, which then reads its own query back as a bad response)."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in range(low - 1, 1024, -1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def start_dead_server(host: str = "127.0.0.1"):
    """Bind UDP and TCP (listening, never accepting) on one port and never reply; returns (host, port, stop)."""
    for _attempt in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(1)
        break
    else:
        raise RuntimeError("no free port for the dead DNS server")

    def stop():
        udp.close()
        tcp.close()

    return host, port, stop
