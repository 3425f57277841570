"""Findings to Log Analytics through the Logs Ingestion API (``azure-monitor-ingestion``).

``--log-analytics-endpoint URL --dcr-id ID [--stream NAME]``: after the local reports are written, every finding
row (one record per evaluation, ``RecordType`` "Finding") and one run record (``RecordType`` "Run": the summary)
go to the data collection rule's stream, through ``LogsIngestionClient.upload``, which splits them into gzip
batches of at most 1 MiB as the library does. The credential is the live audit's (``collect.build_credential``:
DefaultAzureCredential, ``--tenant``, ``--cloud``). The custom table, the DCR and KQL queries are in
docs/log-analytics/. A failed upload is one line on stderr and exit 3; the local reports are already written.
"""
from __future__ import annotations

import logging
import re
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd

log = logging.getLogger("auditor.loganalytics")

DEFAULT_STREAM = "Custom-RsvPeAuditor"
SCOPES = {"public": "https://monitor.azure.com/.default", "usgov": "https://monitor.azure.us/.default",
          "china": "https://monitor.azure.cn/.default"}
#: findings column -> table column
COLUMNS = {"finding_id": "FindingId", "rule_id": "RuleId", "title": "Title", "severity": "Severity",
           "compliance_state": "ComplianceState", "change": "Change", "subscription_id": "SubscriptionId",
           "resource_group": "ResourceGroup", "resource_type": "ResourceType", "resource_id": "ResourceId",
           "resource_name": "ResourceName", "vault_id": "VaultId", "message": "Message", "remediation": "Remediation",
           "exemption_category": "ExemptionCategory", "exemption_justification": "ExemptionJustification"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}$")


@dataclass(frozen=True)
class Target:
    endpoint: str
    dcr_id: str
    stream: str
    tenant: str | None = None
    cloud: str = "public"

    @classmethod
    def from_args(cls, endpoint: str | None, dcr_id: str | None, stream: str | None, *, tenant: str | None = None,
                  cloud: str = "public") -> "Target":
        if not endpoint:
            raise ValueError("argument --log-analytics-endpoint: required with --dcr-id or --stream")
        if not re.match(r"^https://[^\s/?#]+(/[^\s?#]*)?$", endpoint):
            raise ValueError(f"argument --log-analytics-endpoint: {endpoint!r} is not an https URL "
                             "(the data collection endpoint's logs ingestion URL)")
        if not dcr_id:
            raise ValueError("argument --dcr-id: required with --log-analytics-endpoint (the rule's immutable id, "
                             "dcr-...)")
        if not _NAME.match(dcr_id):
            raise ValueError(f"argument --dcr-id: {dcr_id!r} is not a data collection rule immutable id")
        stream = stream or DEFAULT_STREAM
        if not _NAME.match(stream):
            raise ValueError(f"argument --stream: {stream!r} is not a stream name")
        return cls(endpoint.rstrip("/"), dcr_id, stream, tenant, cloud)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def records(findings: pd.DataFrame, meta: dict, recorded=None) -> list[dict]:
    """The rows to send: one per finding, then the run record."""
    when = _text(meta.get("generated_at"))
    run_id = recorded.uid if recorded is not None else str(uuid.uuid4())
    cols = [c for c in COLUMNS if c in findings.columns]
    values = [[_text(v) for v in findings[c].tolist()] for c in cols]
    names = [COLUMNS[c] for c in cols]
    out = []
    for row in zip(*values):
        rec = {"TimeGenerated": when, "RecordType": "Finding", "RunId": run_id, "Change": ""}
        rec.update(zip(names, row))
        out.append(rec)
    summary = meta.get("summary") or {}
    tool = meta.get("tool") or {}
    hist = meta.get("history") or {}
    out.append({"TimeGenerated": when, "RecordType": "Run", "RunId": run_id,
                "ToolVersion": _text(tool.get("version")), "Scope": _text(hist.get("scope")),
                "Evaluations": int(summary.get("evaluations") or len(findings)),
                "CompliancePct": summary.get("compliance_pct"),
                "NonCompliant": int((summary.get("by_state") or {}).get("NonCompliant", 0)),
                "NewCount": int(getattr(recorded, "new", 0) or 0) if recorded is not None else None,
                "ResolvedCount": len(meta.get("resolved") or []) if meta.get("baseline") else None,
                "Summary": summary, "Subscriptions": list(meta.get("subscriptions") or []),
                "Inputs": list(meta.get("inputs") or [])})
    return out


def _first_line(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    msg = (text[0] if text else type(exc).__name__)[:300]
    return f"HTTP {status}: {msg}" if status else msg


def ship(target: Target, findings: pd.DataFrame, meta: dict, recorded=None) -> bool:
    """Upload; True when every batch was accepted. A failure prints one line on stderr."""
    from azure.monitor.ingestion import LogsIngestionClient

    from .cli import safe
    from .collect import build_credential

    rows = records(findings, meta, recorded)
    failed: list = []
    try:
        credential = build_credential(tenant=target.tenant, cloud=target.cloud)
        client = LogsIngestionClient(target.endpoint, credential, credential_scopes=[SCOPES[target.cloud]],
                                     retry_total=3, retry_backoff_factor=0.5, logging_enable=False)
        with client:
            client.upload(rule_id=target.dcr_id, stream_name=target.stream, logs=rows, on_error=failed.append)
    except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback
        print(f"auditor: error: Log Analytics upload to {safe(target.endpoint)} failed: {safe(_first_line(exc))}",
              file=sys.stderr)
        return False
    if failed:
        lost = sum(len(f.failed_logs) for f in failed)
        print(f"auditor: error: Log Analytics upload to {safe(target.endpoint)} failed: {lost} of {len(rows)} "
              f"records in {len(failed)} batch(es) not accepted ({safe(_first_line(failed[0].error))})",
              file=sys.stderr)
        return False
    log.info("sent %d records to %s (stream %s)", len(rows), target.endpoint, target.stream)
    return True
