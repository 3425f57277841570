"""Faults against the emulator serving the demo estate: the audit reports exact findings where data was read (the
offline truth: engine.load + engine.evaluate of the same estate), Error rows exactly where it was not, exit 3 when
something could not be read, and never a traceback.

The CLI runs in-process (``auditor.cli.main``) so that timeouts can be shortened; an escaping exception fails the
test, which is the "never a traceback" check, and stderr is searched for one as well.
"""
from __future__ import annotations

import itertools
import json
import logging
from functools import lru_cache
from pathlib import Path

import pytest

from auditor import arm, cli, collect, engine, pipeline
from auditor.rules import ALL
from tests.emulator import Fault

ROOT = Path(__file__).resolve().parents[2]
from tests.live.demo import DEMO, OBJECTS  # noqa: E402  (the demo the collector reads: see tests/live/demo.py)
SUBS = {o["displayName"]: o["subscriptionId"] for o in OBJECTS if str(o.get("id", "")).count("/") == 2}
PROD, DEV, HUB = SUBS["contoso-prod"], SUBS["contoso-dev"], SUBS["contoso-connectivity-hub"]


def zone(sub: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/rg-private-dns/providers/Microsoft.Network/privateDnsZones/{name}"


BACKUP_ZONE, BLOB_ZONE, QUEUE_ZONE = ("privatelink.we.backup.windowsazure.com", "privatelink.blob.core.windows.net",
                                      "privatelink.queue.core.windows.net")
SQL04_QUEUE = "pe-rsv-prod-sql-04_ecsab74fe57_queue"
# Rows whose verdict rests on something *not* found (an A record or a zone link that is missing): an unreadable zone
# of the same name might hold it, so they become Error when a zone of that name (or a whole scope) cannot be read.
ABSENCE_BACKUP_ROWS = {(r, pe) for r in ("DNS-001", "DNS-003", "DNS-004")
                       for pe in ("pe-rsv-prod-sql-04", "pe-rsv-prod-sql-05")}   # privatelink.we.backup...
ABSENCE_QUEUE_ROWS = {(r, SQL04_QUEUE) for r in ("DNS-002", "DNS-003", "DNS-004")}  # privatelink.queue...
# WL-001 of the workloads whose VNet lacks a link to zones of those names (any of them might be linked there)
ABSENCE_WL_ROWS = {("WL-001", "vm-hana-01"), ("WL-001", "vm-sql-decom")}
ABSENCE_BACKUP_ROWS |= ABSENCE_WL_ROWS
ABSENCE_QUEUE_ROWS |= ABSENCE_WL_ROWS
ABSENCE_ROWS = ABSENCE_BACKUP_ROWS | ABSENCE_QUEUE_ROWS

_counter = itertools.count()


@lru_cache(maxsize=None)
def _truth(path: str) -> dict:
    f = engine.evaluate(pipeline.load([path]), ALL, engine.Settings())
    return {(r.rule_id, r.resource_id.lower()): r._asdict() for r in f.itertuples(index=False)}


def truth(objects: list[dict] | None = None, tmp_path: Path | None = None) -> dict:
    """Offline truth of the demo (or of ``objects``) keyed by (rule, lower-cased resource id)."""
    if objects is None:
        return dict(_truth(str(DEMO)))
    p = tmp_path / f"truth-{next(_counter)}.json"
    p.write_text(json.dumps(objects))
    return dict(_truth(str(p)))


@pytest.fixture
def demo(emulator, live_env):
    emulator.set_estate(OBJECTS)
    emulator.page_size = 10
    emulator.event_time_filter = False  # the demo's re-registration event has a fixed date
    return emulator


class Run:
    def __init__(self, code: int, doc: dict, out: str, err: str):
        self.code, self.doc, self.out, self.err = code, doc, out, err
        self.rows = {(r["rule_id"], r["resource_id"].lower()): r for r in doc["findings"]}

    def errors(self) -> set[tuple[str, str]]:
        return {(r["rule_id"], r["resource_name"]) for r in self.rows.values() if r["compliance_state"] == "Error"}


def audit(tmp_path: Path, capsys, *args: str) -> Run:
    root, azure = logging.getLogger(), logging.getLogger("azure")
    saved = root.handlers[:], root.level, azure.level
    out = tmp_path / f"report-{next(_counter)}"
    capsys.readouterr()
    try:
        code = cli.main(["audit", "--out", str(out), "--format", "json", *args])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        azure.setLevel(saved[2])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out, cap.err
    return Run(code, json.loads((out / "findings.json").read_text()), cap.out, cap.err)


def same(a: dict, b: dict) -> bool:
    keys = ("finding_id", "rule_id", "severity", "compliance_state", "resource_id", "resource_name", "vault_id",
            "message", "subscription_id", "resource_group")
    return all(str(a[k]) == str(b[k]) for k in keys)


def assert_exact(run: Run, expected: dict, errors: set[tuple[str, str]] = frozenset(), absent: str | None = None):
    """Every row equals the truth except the ``errors`` rows (by rule and resource name), which are Error; rows
    under ``absent`` (a subscription whose listings failed) may be missing, nothing else may."""
    assert run.errors() == set(errors)
    for key, want in expected.items():
        got = run.rows.get(key)
        if got is None:
            assert absent and f"/subscriptions/{absent}/" in key[1], f"missing row {key}"
            continue
        if (got["rule_id"], got["resource_name"]) in errors:
            continue
        assert same(got, want), (key, got["compliance_state"], got["message"], want["compliance_state"],
                                 want["message"])
    assert set(run.rows) <= set(expected), set(run.rows) - set(expected)


def request_statuses(emulator) -> list:
    return [r.get("status") for r in emulator.requests]


# ---------------------------------------------------------------------------------------------- recovered faults

@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_baseline_live_equals_offline(demo, tmp_path, capsys, workers):
    run = audit(tmp_path, capsys, "--workers", workers)
    assert run.code == 1
    assert_exact(run, truth())
    assert run.doc["errors"] == []


@pytest.mark.parametrize("workers", ["1", "3"])
def test_429_storm_is_absorbed(demo, tmp_path, capsys, workers):
    """Every subscription's first reads are throttled (Retry-After honoured) on top of ARM's token bucket."""
    from tests.emulator import TokenBucket

    demo.throttle = TokenBucket(capacity=12, rate=40)
    demo.faults += [Fault(status=429, prefix="/subscriptions", times=3, retry_after=0.2)]
    demo.faults += [Fault(status=429, prefix=f"/subscriptions/{s}", times=4, retry_after=0.1) for s in SUBS.values()]
    run = audit(tmp_path, capsys, "--workers", workers)
    assert run.code == 1 and run.doc["errors"] == []
    assert_exact(run, truth())
    n429 = request_statuses(demo).count(429)
    assert n429 >= 3 + 3 * 4, n429
    # Retry-After honoured: the tenant listing was retried no sooner than 0.2 s after each 429
    hits = [r for r in demo.requests if r["path"].rstrip("/") == "/subscriptions"]
    assert [r["status"] for r in hits[:4]] == [429, 429, 429, 200]
    assert all(b["time"] - a["time"] >= 0.18 for a, b in zip(hits, hits[1:4]))


def test_503_bursts_are_retried(demo, tmp_path, capsys):
    # three failures in a row per call: well inside the retry budget (retry_status 6)
    demo.faults += [Fault(status=503, prefix="/subscriptions", times=3)]  # the tenant listing, alone at first
    demo.faults += [Fault(status=503, prefix=f"/subscriptions/{s}/providers", times=3) for s in SUBS.values()]
    demo.faults += [Fault(status=502, prefix=f"/subscriptions/{PROD}/resourceGroups", every=4, times=6),
                    Fault(status=500, contains="/privatednszones/", every=5, times=4)]
    run = audit(tmp_path, capsys)
    assert run.doc["errors"] == [] and run.code == 1
    assert_exact(run, truth())
    st = request_statuses(demo)
    assert (st.count(503), st.count(502), st.count(500)) == (3 + 3 * 3, 6, 4)


def test_connection_resets_and_timeouts_are_retried(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(collect.settings, "READ_TIMEOUT", 0.5)
    demo.faults += [Fault(reset=True, prefix=f"/subscriptions/{PROD}/providers/Microsoft.Network/privateEndpoints",
                          times=2),
                    Fault(reset=True, prefix=f"/subscriptions/{DEV}", every=3, times=3),
                    Fault(delay=1.2, prefix=f"/subscriptions/{HUB}/providers/Microsoft.Network/privateDnsZones",
                          times=2),
                    Fault(delay=1.2, prefix=zone(PROD, BACKUP_ZONE) + "/A", times=1)]
    run = audit(tmp_path, capsys)
    assert run.code == 1 and run.doc["errors"] == []
    assert_exact(run, truth())
    assert [f.fired for f in demo.faults] == [2, 3, 2, 1]


def test_vanished_between_list_and_get_is_gone_not_an_error(demo, tmp_path, capsys):
    """rsv-dev-sql-01 is listed, then its storage configuration answers 404: gone. Truth: the estate without it
    (its cross-region-restore flag is no longer known, so RSV-003 is Compliant there), no Error, exit 1."""
    vault = next(o for o in OBJECTS if o.get("name") == "rsv-dev-sql-01")["id"]
    demo.faults.append(Fault(status=404, prefix=vault))
    run = audit(tmp_path, capsys)
    assert demo.faults[0].fired == 3   # its storage config, workload containers and guard proxies: all gone
    assert run.code == 1 and run.doc["errors"] == [] and not run.errors()
    rest = [o for o in OBJECTS if not o["id"].lower().startswith(vault.lower() + "/backupstorageconfig")]
    assert len(rest) == len(OBJECTS) - 1
    expected = truth(rest, tmp_path)
    assert_exact(run, expected)
    assert expected[("RSV-003", vault.lower())]["compliance_state"] == "Compliant"
    assert truth()[("RSV-003", vault.lower())]["compliance_state"] == "NonCompliant"


# ---------------------------------------------------------------------------------------------- unreadable data

def _error_messages_name(run: Run, scope: str, status: str) -> None:
    msgs = [r["message"] for r in run.rows.values() if r["compliance_state"] == "Error"]
    assert msgs and all(f"could not read {scope.lower()}" in m.lower() and status in m for m in msgs), msgs[:3]


@pytest.mark.parametrize("workers", ["1", "3"])
def test_403_on_one_subscription(demo, tmp_path, capsys, workers):
    """Everything under contoso-dev answers 403 (the tenant listing still shows it). Its resources cannot be
    listed, so they have no rows but its provider's, which are Error; the absence verdicts elsewhere become Error
    (a zone in dev of any name may be linked to a prod VNet); everything else equals the offline truth; exit 3."""
    demo.faults.append(Fault(status=403, prefix=f"/subscriptions/{DEV}"))
    run = audit(tmp_path, capsys, "--workers", workers)
    assert run.code == 3
    assert {(e["scope"].lower(), e["status"]) for e in run.doc["errors"]} == {(f"/subscriptions/{DEV}", 403)}
    assert {t for e in run.doc["errors"] for t in e["types"]} == {
        arm.VAULT, arm.PRIVATE_ENDPOINT, arm.NIC, arm.VNET, arm.ZONE, arm.ROLE_ASSIGNMENT, arm.PROVIDER,
        arm.POLICY_ASSIGNMENT, arm.KEY_VAULT}   # key vaults: a CMK vault's is looked for in every subscription
    provider = {("SUB-001", "Microsoft.RecoveryServices"), ("SUB-002", "Microsoft.RecoveryServices")}
    pol = {(r, "deny-vault-public-access") for r in ("POL-001", "POL-002", "POL-003")}   # covers contoso-dev
    assert_exact(run, truth(), ABSENCE_ROWS | provider | pol, absent=DEV)
    assert [k for k in run.rows if f"/subscriptions/{DEV}/" in k[1]] == [
        ("SUB-001", f"/subscriptions/{DEV}/providers/microsoft.recoveryservices"),
        ("SUB-002", f"/subscriptions/{DEV}/providers/microsoft.recoveryservices")]
    _error_messages_name(run, f"/subscriptions/{DEV}", "HTTP 403")
    assert f"/subscriptions/{DEV}" in run.out  # the summary names the unreadable scope


def test_403_on_one_subscription_keeps_its_provider_rows_as_error(demo, tmp_path, capsys):
    demo.faults.append(Fault(status=403, prefix=f"/subscriptions/{DEV}"))
    run = audit(tmp_path, capsys)
    prov = f"/subscriptions/{DEV}/providers/microsoft.recoveryservices"
    assert run.rows[("SUB-001", prov)]["compliance_state"] == "Error"
    assert run.rows[("SUB-002", prov)]["compliance_state"] == "Error"


DEV_QUEUE_DIRECT = {(r, pe) for r in ("DNS-002", "DNS-003", "DNS-004")
                    for pe in ("pe-rsv-dev-sql-01_ecsed1ba5c8_queue", "pe-rsv-dev-sql-02_ecs81356bc5_queue")} \
    | {("IAM-001", "rsv-dev-sql-01"), ("IAM-001", "rsv-dev-sql-02")}  # (c) reads the queue zone's links


def test_403_on_one_dns_zone(demo, tmp_path, capsys):
    """contoso-dev's privatelink.queue zone answers 403 (its records and links cannot be listed): the dev queue
    storage endpoints' DNS rows and their vaults' IAM-001 are Error, plus the absence rows of queue FQDNs (a queue
    zone cannot hold a backup FQDN's record); all else equals the truth."""
    z = zone(DEV, QUEUE_ZONE)
    demo.faults.append(Fault(status=403, prefix=z))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    assert sorted((e["scope"].lower(), e["status"], tuple(e["types"])) for e in run.doc["errors"]) == [
        (z.lower(), 403, (arm.A_RECORD,)), (z.lower(), 403, (arm.VNET_LINK,))]
    assert_exact(run, truth(), DEV_QUEUE_DIRECT | ABSENCE_QUEUE_ROWS)
    _error_messages_name(run, z, "HTTP 403")


def test_malformed_json_body(demo, tmp_path, capsys):
    """The hub's privatelink.blob zone answers 200 with a truncated JSON body for its A records."""
    z = zone(HUB, BLOB_ZONE)
    demo.faults.append(Fault(malformed=True, prefix=z + "/A"))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    [err] = run.doc["errors"]
    assert (err["scope"].lower(), err["status"], err["types"]) == (z.lower(), 200, [arm.A_RECORD]) and "malformed" in err["message"]
    direct = {(r, f"pe-rsv-prod-v2-0{i}") for r in ("DNS-001", "DNS-003") for i in (1, 2, 3)}  # v2: blob FQDNs
    direct |= {(r, pe) for r in ("DNS-002", "DNS-003")
               for pe in ("pe-rsv-hub-mars-01_ecs697b65cb_blob", "pe-rsv-hub-mars-01_prot325abdec_blob")}
    assert_exact(run, truth(), direct)  # no absence row rests on a blob zone
    _error_messages_name(run, z, "HTTP 200")


def test_timeouts_exhausted(demo, tmp_path, capsys, monkeypatch):
    """contoso-dev's backup zone never answers its link listing in time: DNS-001/003/004 of the dev backup
    endpoints are Error, and so are the absence rows of backup FQDNs elsewhere (that zone might be linked to their
    VNets); IAM-001 reads only blob/queue zones and stands."""
    monkeypatch.setattr(collect.settings, "READ_TIMEOUT", 0.3)
    monkeypatch.setitem(collect.RETRY, "retry_total", 2)
    z = zone(DEV, BACKUP_ZONE)
    demo.faults.append(Fault(delay=0.8, prefix=z + "/virtualNetworkLinks"))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    [err] = run.doc["errors"]
    assert (err["scope"].lower(), err["status"], err["types"]) == (z.lower(), None, [arm.VNET_LINK])
    direct = {(r, pe) for r in ("DNS-001", "DNS-003", "DNS-004") for pe in ("pe-rsv-dev-sql-01", "pe-rsv-dev-sql-02")}
    assert_exact(run, truth(), direct | ABSENCE_BACKUP_ROWS)
    _error_messages_name(run, z, "")


# the policy assignments covering contoso-dev (its own, and the landing zones' group's) whose verdict rests on the
# PEs and vaults they cover there: dev-asr-dns applies 942bd215 (POL-002), deny-vault-public-access applies 9ebbbba3
# with Deny (POL-003). Their other rows are decided by the definition or the enforcement mode alone (dev-backup-dns
# is DoNotEnforce) and stay NotApplicable.
DEV_POL_ROWS = {("POL-002", "dev-asr-dns"), ("POL-003", "deny-vault-public-access")}
DEV_PE_ERRORS = {(r, pe) for pe in ("pe-rsv-dev-sql-01", "pe-rsv-dev-sql-02")
                 for r in ("DNS-001", "DNS-002", "DNS-003", "DNS-004", "DNS-005", "PE-001", "PE-002", "PE-004",
                           "PE-005")} \
    | {(r, v) for v in ("rsv-dev-sql-01", "rsv-dev-sql-02") for r in ("IAM-001", "RSV-005")}
# (RSV-003 stands: the vault's own connection list says whether an approved AzureBackup_secondary exists; so does
# RSV-008 where the vault side lists an approved one)


def _dev_pe_listing_reset(demo, tmp_path, capsys) -> Run:
    demo.faults.append(Fault(reset=True, prefix=f"/subscriptions/{DEV}/providers/Microsoft.Network/privateEndpoints"))
    return audit(tmp_path, capsys)


def test_connection_resets_exhausted(demo, tmp_path, capsys):
    """contoso-dev's private endpoint listing always drops the connection. The vaults' backup endpoints are known
    by reference: their rows and the rows of the vaults that rest on them are Error; the storage endpoints (known
    only from the listing) have no rows."""
    run = _dev_pe_listing_reset(demo, tmp_path, capsys)
    assert run.code == 3
    [err] = run.doc["errors"]
    assert (err["scope"].lower(), err["status"], err["types"]) == (f"/subscriptions/{DEV}", None, [arm.PRIVATE_ENDPOINT])
    expected = truth()
    storage = {k for k in expected if DEV in k[1] and ("_ecs" in k[1] or "_prot" in k[1])}
    endpoint_rules = sum(1 for r in ALL if r.subject == "endpoints" and r.only_with is None)
    assert len(storage) == 6 * endpoint_rules and not storage & set(run.rows)  # 6 storage endpoints x each rule
    # a PE listing error holds no zone, record or link: the absence verdicts elsewhere stand
    # the VNets and subnets of dev cannot show which endpoints they hold: Error, not "holds no backup endpoint"
    held = {("DNS-006", "vnet-rsv-dev-sql-01"), ("DNS-006", "vnet-rsv-dev-sql-02"), ("PE-003", "snet-pe")}
    assert_exact(run, {k: v for k, v in expected.items() if k not in storage}, DEV_PE_ERRORS | DEV_POL_ROWS | held)


def test_unreadable_data_never_gives_notapplicable(demo, tmp_path, capsys):
    run = _dev_pe_listing_reset(demo, tmp_path, capsys)
    was = truth()
    flipped = [k for k, r in run.rows.items() if r["compliance_state"] == "NotApplicable"
               and was[k]["compliance_state"] in ("Compliant", "NonCompliant")]
    assert flipped == []


def test_unreadable_vnets_make_dns_rows_error(demo, tmp_path, capsys):
    demo.faults.append(Fault(malformed=True, prefix=f"/subscriptions/{PROD}/providers/Microsoft.Network/"
                                                    "virtualNetworks"))
    run = audit(tmp_path, capsys)
    was = truth()
    flipped = [k for k, r in run.rows.items() if r["compliance_state"] == "NotApplicable"
               and was[k]["compliance_state"] in ("Compliant", "NonCompliant")]
    assert flipped == []


# ---------------------------------------------------------------------------------------------- hardening reads (#14)

def _vault(name: str) -> str:
    return next(o["id"] for o in OBJECTS if o.get("name") == name and o.get("type") == arm.VAULT)


def test_403_on_a_vaults_guard_proxies(demo, tmp_path, capsys):
    """rsv-prod-sql-01's resource guard proxies answer 403: one error record for the vault, its RSV-012 row Error
    (MUA rests on the proxies), every other row as offline, exit 3."""
    vault = _vault("rsv-prod-sql-01")
    demo.faults.append(Fault(status=403, prefix=vault + "/backupResourceGuardProxies"))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    assert [(e["scope"].lower(), e["status"], e["types"]) for e in run.doc["errors"]] == [
        (vault.lower(), 403, [arm.GUARD_PROXY])]
    assert_exact(run, truth(), {("RSV-012", "rsv-prod-sql-01")})


def test_403_on_the_key_vault_list(demo, tmp_path, capsys):
    """contoso-prod's key vaults cannot be listed: the CMK PE vaults' RSV-013 rows are Error, nothing else, exit 3."""
    demo.faults.append(Fault(status=403, prefix=f"/subscriptions/{PROD}/providers/Microsoft.KeyVault/vaults"))
    run = audit(tmp_path, capsys)
    assert run.code == 3
    assert [(e["scope"].lower(), e["status"], e["types"]) for e in run.doc["errors"]] == [
        (f"/subscriptions/{PROD}", 403, [arm.KEY_VAULT])]
    cmk = {name for (rule, _), row in truth().items() if rule == "RSV-013"
           for name in [row["resource_name"]] if row["compliance_state"] in ("Compliant", "NonCompliant")}
    assert cmk
    assert_exact(run, truth(), {("RSV-013", name) for name in cmk})
