"""Tests of auditor.dns (the lookups) against a real DNS server on 127.0.0.1 (tests/dnsserver.py)."""
from __future__ import annotations

import asyncio
import os
import re
import sys
import threading

import dns.resolver
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from dnsserver import DNSTestServer, closed_port, start_dead_server, start_dns_server  # noqa: E402

from auditor.dns import lookup as R  # noqa: E402
from auditor.dns import parse_server, resolve_fqdns  # noqa: E402

FAST = dict(timeout=0.3, retries=1)  # a dropped query costs 0.6 s
BIG = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(80)]  # ~1.3 kB of A records: truncated over UDP

ZONE = {
    "acct.blob.core.windows.net": {"CNAME": "acct.privatelink.blob.core.windows.net"},
    "acct.privatelink.blob.core.windows.net": "10.0.0.5",
    "fwd.blob.core.windows.net": {"CNAME": "fwd.privatelink.blob.core.windows.net", "chase": False},
    "fwd.privatelink.blob.core.windows.net": {"CNAME": "fwd.blob.pod1.store.core.windows.net", "chase": False},
    "fwd.blob.pod1.store.core.windows.net": ["10.0.0.9", "10.0.0.10"],
    "pub.blob.core.windows.net": "20.60.1.2",
    "nx.blob.core.windows.net": "NXDOMAIN",
    "gone.blob.core.windows.net": {"CNAME": "gone.privatelink.blob.core.windows.net"},
    "nodata.blob.core.windows.net": "NODATA",
    "drop.blob.core.windows.net": "DROP",
    "fail.blob.core.windows.net": "SERVFAIL",
    "refused.blob.core.windows.net": "REFUSED",
    "big.example": BIG,
    "loop1.example": {"CNAME": "loop2.example"},
    "loop2.example": {"CNAME": "loop1.example"},
    **{f"c{i}.example": {"CNAME": f"c{i + 1}.example", "chase": False} for i in range(12)},
    "c12.example": "10.9.9.9",
}


@pytest.fixture(scope="module")
def srv():
    with DNSTestServer(ZONE) as s:
        yield s


def one(df, fqdn):
    rows = df[df.fqdn == fqdn]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_cname_chain_to_private_ip(srv):
    df = resolve_fqdns(["acct.blob.core.windows.net"], servers=[srv.addr], **FAST)
    assert list(df.columns) == ["fqdn", "server", "status", "addresses", "chain", "detail"]
    assert one(df, "acct.blob.core.windows.net") == {
        "fqdn": "acct.blob.core.windows.net",
        "server": f"127.0.0.1:{srv.port}",
        "status": "ok",
        "addresses": ("10.0.0.5",),
        "chain": ("acct.blob.core.windows.net", "acct.privatelink.blob.core.windows.net"),
        "detail": "CNAME acct.blob.core.windows.net -> acct.privatelink.blob.core.windows.net -> 10.0.0.5",
    }


def test_cname_only_answers_are_followed_by_the_client(srv):
    before = [q for q in srv.queries if q[0].startswith("fwd.")]
    df = resolve_fqdns(["fwd.blob.core.windows.net"], servers=[srv.addr], **FAST)
    r = one(df, "fwd.blob.core.windows.net")
    assert r["status"] == "ok" and r["addresses"] == ("10.0.0.9", "10.0.0.10")  # numeric order
    assert r["chain"] == ("fwd.blob.core.windows.net", "fwd.privatelink.blob.core.windows.net",
                          "fwd.blob.pod1.store.core.windows.net")
    assert r["detail"] == ("CNAME fwd.blob.core.windows.net -> fwd.privatelink.blob.core.windows.net"
                           " -> fwd.blob.pod1.store.core.windows.net -> 10.0.0.9, 10.0.0.10")
    asked = [q[0] for q in srv.queries if q[0].startswith("fwd.")][len(before):]
    assert asked == ["fwd.blob.core.windows.net", "fwd.privatelink.blob.core.windows.net",
                     "fwd.blob.pod1.store.core.windows.net"]


def test_public_ip_nxdomain_nodata_servfail(srv):
    names = ["pub.blob.core.windows.net", "nx.blob.core.windows.net", "gone.blob.core.windows.net",
             "nodata.blob.core.windows.net", "fail.blob.core.windows.net", "refused.blob.core.windows.net"]
    df = resolve_fqdns(names, servers=[srv.addr], **FAST)
    s = f"127.0.0.1:{srv.port}"
    assert list(df.fqdn) == names
    assert one(df, "pub.blob.core.windows.net") == {
        "fqdn": "pub.blob.core.windows.net", "server": s, "status": "ok", "addresses": ("20.60.1.2",),
        "chain": (), "detail": "A 20.60.1.2"}
    assert one(df, "nx.blob.core.windows.net") == {
        "fqdn": "nx.blob.core.windows.net", "server": s, "status": "nxdomain", "addresses": (),
        "chain": (), "detail": f"NXDOMAIN from {s}"}
    assert one(df, "gone.blob.core.windows.net") == {
        "fqdn": "gone.blob.core.windows.net", "server": s, "status": "nxdomain", "addresses": (),
        "chain": ("gone.blob.core.windows.net", "gone.privatelink.blob.core.windows.net"),
        "detail": "NXDOMAIN for gone.privatelink.blob.core.windows.net via CNAME gone.blob.core.windows.net"
                  f" -> gone.privatelink.blob.core.windows.net from {s}"}
    assert one(df, "nodata.blob.core.windows.net") == {
        "fqdn": "nodata.blob.core.windows.net", "server": s, "status": "noanswer", "addresses": (),
        "chain": (), "detail": f"NOERROR, no A record from {s}"}
    assert one(df, "fail.blob.core.windows.net")["status"] == "error"
    assert one(df, "fail.blob.core.windows.net")["detail"] == f"SERVFAIL from {s}"
    assert one(df, "refused.blob.core.windows.net")["detail"] == f"REFUSED from {s}"


def test_name_never_answered_while_others_are_is_noanswer(srv):
    df = resolve_fqdns(["drop.blob.core.windows.net", "pub.blob.core.windows.net"], servers=[srv.addr], **FAST)
    s = f"127.0.0.1:{srv.port}"
    assert one(df, "drop.blob.core.windows.net") == {
        "fqdn": "drop.blob.core.windows.net", "server": s, "status": "noanswer", "addresses": (),
        "chain": (), "detail": f"timeout after 2 tries ({s})"}
    assert one(df, "pub.blob.core.windows.net")["status"] == "ok"


def test_cname_loop_and_overlong_chain_are_errors(srv):
    df = resolve_fqdns(["loop1.example", "c0.example", "c5.example"], servers=[srv.addr], **FAST)
    loop = one(df, "loop1.example")
    assert loop["status"] == "error" and loop["detail"].startswith(
        "CNAME loop: loop1.example -> loop2.example -> loop1.example")
    long = one(df, "c0.example")
    assert long["status"] == "error" and long["detail"].startswith(f"CNAME chain longer than {R.MAX_CHAIN}")
    assert len(long["chain"]) == R.MAX_CHAIN + 1
    ok = one(df, "c5.example")  # 7 hops: within the cap
    assert ok["status"] == "ok" and ok["addresses"] == ("10.9.9.9",) and len(ok["chain"]) == 8


def test_truncated_udp_answer_is_retried_over_tcp(srv):
    tcp_before = srv.count("tcp")
    df = resolve_fqdns(["big.example"], servers=[srv.addr], **FAST)
    r = one(df, "big.example")
    assert r["status"] == "ok"
    assert r["addresses"] == tuple(BIG)
    assert r["detail"] == "A 10.1.0.1, 10.1.0.2, 10.1.0.3, 10.1.0.4, ... (+76)"
    assert srv.count("tcp") == tcp_before + 1


def test_mixed_case_and_trailing_dots_are_normalised(srv):
    df = resolve_fqdns(["ACCT.Blob.Core.Windows.NET.", "acct.blob.core.windows.net", "Pub.blob.core.windows.net.",
                        "acct.blob.core.windows.net."], servers=[srv.addr], **FAST)
    assert list(df.fqdn) == ["acct.blob.core.windows.net", "pub.blob.core.windows.net"]
    assert list(df.status) == ["ok", "ok"]
    assert df.chain.iloc[0] == ("acct.blob.core.windows.net", "acct.privatelink.blob.core.windows.net")


def test_invalid_and_empty_input():
    df = resolve_fqdns([], servers=[("127.0.0.1", 9)])
    assert df.empty and list(df.columns) == R.COLUMNS
    df = resolve_fqdns(["a..b.example", "x" * 70 + ".example"], servers=[("127.0.0.1", 9)], timeout=0.2, retries=0)
    assert list(df.status) == ["error", "error"]
    assert all(d.startswith("invalid name") for d in df.detail)


def test_2000_names_concurrently():
    zone = {}
    for i in range(2000):
        if i % 2:  # recursive style: CNAME + A in one answer
            zone[f"sa{i}.blob.core.windows.net"] = {"CNAME": f"sa{i}.privatelink.blob.core.windows.net"}
        else:  # forwarder style: the client follows the CNAME itself
            zone[f"sa{i}.blob.core.windows.net"] = {"CNAME": f"sa{i}.privatelink.blob.core.windows.net", "chase": False}
        zone[f"sa{i}.privatelink.blob.core.windows.net"] = f"10.{i // 250}.{i % 250}.4"
    names = [f"SA{i}.blob.core.windows.net." for i in range(2000)]
    with DNSTestServer(zone) as s:
        df = resolve_fqdns(names, servers=[s.addr], timeout=2.0, retries=2)
    assert len(df) == 2000 and set(df.status) == {"ok"}
    for i, row in enumerate(df.itertuples()):
        assert row.fqdn == f"sa{i}.blob.core.windows.net"
        assert row.addresses == (f"10.{i // 250}.{i % 250}.4",)
        assert row.chain == (row.fqdn, f"sa{i}.privatelink.blob.core.windows.net")


@pytest.mark.parametrize("kind", ["dead", "silent", "closed"])
def test_server_that_answers_nothing_is_unreachable_and_bounded(kind):
    # Bounded by count, not by the clock: the first `concurrency` names are sent and wait out their tries; by the
    # time one of them gives up the server is known dead, so no other name is ever sent.
    concurrency, retries = 16, 1
    names = [f"n{i}.blob.core.windows.net" for i in range(1500)]
    silent = None
    if kind == "dead":  # bound, never reads
        host, port, stop = start_dead_server()
    elif kind == "silent":  # reads every query, answers none
        silent = DNSTestServer({n: "10.0.0.1" for n in names}).start()
        silent.silent = True
        host, port, stop = silent.host, silent.port, silent.stop
    else:  # nothing bound
        host, port, stop = "127.0.0.1", closed_port(), lambda: None
    try:
        df = resolve_fqdns(names, servers=[(host, port)], timeout=0.3, retries=retries, concurrency=concurrency)
    finally:
        stop()
    assert len(df) == 1500 and set(df.status) == {"unreachable"}
    assert set(df.server) == {f"{host}:{port}"}
    assert all(d.startswith(f"no response from {host}:{port} to any query in this run") for d in df.detail)
    sent = df[~df.detail.str.contains("not asked: no response to earlier queries", regex=False)]
    assert len(sent) == concurrency
    # silence (a timeout, or an ICMP error where the platform reports one), never a response
    assert all(re.search(rf"\((timeout|no response) after {retries + 1} tries\b", d) for d in sent.detail)
    if silent is not None:
        assert silent.count("udp") == concurrency * (retries + 1)


def test_falls_back_to_next_server(srv):
    host, port, stop = start_dead_server()
    try:
        zone = {"acct.blob.core.windows.net": "REFUSED", "fail.blob.core.windows.net": "SERVFAIL",
                "drop.blob.core.windows.net": "DROP"}
        with DNSTestServer(zone) as failing:
            df = resolve_fqdns(["acct.blob.core.windows.net", "fail.blob.core.windows.net", "drop.blob.core.windows.net"],
                               servers=[(host, port), failing.addr, srv.addr], **FAST)
    finally:
        stop()
    acct = one(df, "acct.blob.core.windows.net")
    assert acct["status"] == "ok" and acct["server"] == f"127.0.0.1:{srv.port}"
    fail = one(df, "fail.blob.core.windows.net")  # SERVFAIL from one server, the last one answers SERVFAIL too
    assert fail["status"] == "error" and fail["detail"] == f"SERVFAIL from 127.0.0.1:{srv.port}"
    assert fail["server"] == f"127.0.0.1:{srv.port}"
    drop = one(df, "drop.blob.core.windows.net")  # the dead server is skipped, the others answer other names
    assert drop["status"] == "noanswer" and drop["server"] == f"127.0.0.1:{srv.port}"
    # 6 tries, or 5 when another name has already found the dead server dead
    assert re.fullmatch(rf"timeout after [56] tries \(127\.0\.0\.1:{srv.port}\)", drop["detail"])


def test_lifetime_bounds_the_whole_run(srv):
    df = resolve_fqdns(["drop.blob.core.windows.net", "pub.blob.core.windows.net"], servers=[srv.addr],
                       timeout=2.0, retries=2, lifetime=0.5)
    assert one(df, "pub.blob.core.windows.net")["status"] == "ok"
    drop = one(df, "drop.blob.core.windows.net")
    assert drop["status"] == "error" and drop["detail"].startswith("not resolved within the lifetime of 0.5 s")


def test_callable_from_a_running_event_loop_and_from_threads(srv):
    async def inside():
        return resolve_fqdns(["acct.blob.core.windows.net"], servers=[srv.addr], **FAST)

    assert asyncio.run(inside()).status.tolist() == ["ok"]
    out = []
    threads = [threading.Thread(target=lambda: out.append(
        resolve_fqdns(["pub.blob.core.windows.net"], servers=[srv.addr], **FAST))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [d.status.tolist() for d in out] == [["ok"]] * 4


def test_system_resolver_configuration(srv, tmp_path, monkeypatch):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    real = dns.resolver.Resolver

    def fake(*_a, **_k):
        r = real(filename=str(conf))
        r.port = srv.port
        return r

    monkeypatch.setattr(dns.resolver, "Resolver", fake)
    df = resolve_fqdns(["acct.blob.core.windows.net"], **FAST)
    assert one(df, "acct.blob.core.windows.net")["server"] == f"127.0.0.1:{srv.port}"
    assert df.status.tolist() == ["ok"]


def test_start_dns_server_triple():
    host, port, stop = start_dns_server({"a.example": "10.0.0.1"})
    try:
        df = resolve_fqdns(["a.example"], servers=[(host, port)], **FAST)
        assert df.addresses.tolist() == [("10.0.0.1",)]
    finally:
        stop()


@pytest.mark.parametrize("text,expected", [
    ("10.0.0.4", ("10.0.0.4", 53)),
    ("10.0.0.4:5353", ("10.0.0.4", 5353)),
    (" 10.0.0.4:53 ", ("10.0.0.4", 53)),
    ("[::1]:53", ("::1", 53)),
    ("[::1]", ("::1", 53)),
    ("::1", ("::1", 53)),
    ("fd00::10", ("fd00::10", 53)),
    ("[fe80::1%eth0]:5353", ("fe80::1%eth0", 5353)),
    ("dns.corp.example:5353", ("dns.corp.example", 5353)),
    ("localhost", ("localhost", 53)),
    ("1.2.3.4:65535", ("1.2.3.4", 65535)),
])
def test_parse_server_ok(text, expected):
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", [
    "", "  ", ":53", "10.0.0.4:", "10.0.0.4:0", "10.0.0.4:65536", "10.0.0.4:abc", "10.0.0.4:-1",
    "300.1.1.1", "10.0.0", "[::1", "[::1]:", "[::1]x", "[10.0.0.4]:53", "[zz::1]:53", "::g", "bad host",
    "host_:53:1", "-bad.example", "10.0.0.4:53:53",
])
def test_parse_server_rejects(text):
    with pytest.raises(ValueError, match="DNS server"):
        parse_server(text)


def test_parsed_servers_feed_resolve(srv):
    df = resolve_fqdns(["acct.blob.core.windows.net"], servers=[parse_server(f"127.0.0.1:{srv.port}")], **FAST)
    assert df.status.tolist() == ["ok"]
