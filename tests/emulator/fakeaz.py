"""A stand-in ``az`` executable, so that ``AzureCliCredential`` runs for real without the Azure CLI or a network.

It answers ``az account get-access-token ...`` with the JSON the Azure CLI prints and appends every invocation's
arguments (one JSON list per line) to a log file. Anything else fails like an unknown command.
"""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

_SCRIPT = '''#!{python}
import datetime, json, sys, time
TOKEN, TENANT, LOG = {token!r}, {tenant!r}, {log!r}
args = sys.argv[1:]
with open(LOG, "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["account", "get-access-token"]:
    tenant = args[args.index("--tenant") + 1] if "--tenant" in args else TENANT
    exp = int(time.time()) + 3600
    print(json.dumps({{
        "accessToken": TOKEN,
        "expiresOn": datetime.datetime.fromtimestamp(exp).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "expires_on": exp,
        "subscription": "00000000-0000-0000-0000-000000000000",
        "tenant": tenant,
        "tokenType": "Bearer",
    }}, indent=2))
    sys.exit(0)
print("ERROR: '" + " ".join(args) + "' is not supported by the stand-in az", file=sys.stderr)
sys.exit(2)
'''


def write_fake_az(directory: str | Path, token: str, tenant: str = "00000000-0000-0000-0000-0000000000aa") -> Path:
    """Write ``<directory>/az`` (executable) and return its directory, to put first on PATH. Its invocations are
    logged to ``<directory>/az-calls.jsonl``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    az = d / "az"
    az.write_text(_SCRIPT.format(python=sys.executable, token=token, tenant=tenant, log=str(d / "az-calls.jsonl")))
    az.chmod(az.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return d


def az_calls(directory: str | Path) -> list[list[str]]:
    import json

    log = Path(directory) / "az-calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def cli_env(emulator, az_dir: str | Path, base: dict | None = None) -> dict:
    """The environment a live run against ``emulator`` needs: the stand-in az first on PATH, the Azure CLI
    credential only, the emulator as ARM endpoint and its CA trusted, and no proxy for loopback."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith(("AZURE_CLIENT", "AZURE_TENANT", "AZURE_FEDERATED", "AZURE_USERNAME", "AZURE_PASSWORD",
                         "IDENTITY_", "MSI_")) or k.lower() in ("https_proxy", "http_proxy", "all_proxy"):
            env.pop(k)
    env.update(PATH=f"{az_dir}{os.pathsep}{env.get('PATH', '')}", AZURE_TOKEN_CREDENTIALS="AzureCliCredential",
               AZURE_ARM_ENDPOINT=emulator.url, REQUESTS_CA_BUNDLE=emulator.ca_file,
               NO_PROXY="127.0.0.1,localhost,::1", no_proxy="127.0.0.1,localhost,::1",
               AZURE_CORE_COLLECT_TELEMETRY="false")
    return env
