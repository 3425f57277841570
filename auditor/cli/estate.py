"""The run's input: the demo estate, exported ARM JSON, or the live estate (collected through auditor.pipeline)."""
from __future__ import annotations

import os
import re

from .common import UsageError, log, safe


def management_group_names(args, config_groups: list[str]) -> list[str]:
    """--management-group (else the config's management_groups): group names or ids, as group names."""
    out = []
    for g in args.management_group or config_groups:
        name = g.strip().rstrip("/").rsplit("/", 1)[-1]
        if not name or not re.fullmatch(r"[\w().-]{1,90}", name):
            raise UsageError(f"argument --management-group: {g!r} is not a management group id")
        out.append(name)
    return out


def collect_live_estate(args, config_subs: list[str], config_groups: list[str] = ()) -> dict:
    """Collect the live estate: the snapshot dict (resources, errors, collected_types, collected_at)."""
    from .. import pipeline
    endpoint = pipeline.default_endpoint(args.cloud, args.arm_endpoint)
    if not re.match(r"^https?://[^\s/]+", endpoint):
        raise UsageError(f"argument --arm-endpoint: {endpoint!r} is not an http(s) URL")
    groups = management_group_names(args, list(config_groups))
    if groups and not pipeline.collector_takes_management_groups():
        raise UsageError("argument --management-group: this build's live collector cannot enumerate management "
                         "groups; export the estate (see the README) and audit it with --input --management-group")
    return pipeline.collect_live(arm_endpoint=endpoint, cloud=args.cloud, tenant=args.tenant,
                                 subscriptions=(args.subscription or config_subs) or None,
                                 max_concurrency=args.max_concurrency, source=args.source, workers=args.workers,
                                 structured_progress=args.log_format == "json", management_groups=groups)


def load_model(args, cfg):
    """The model of the run's input: the demo, files, or the live estate; unreadable objects are logged."""
    from .. import pipeline
    if args.demo:
        m = pipeline.load_demo()
    elif args.input:
        m = pipeline.load(args.input)
    else:
        snap = collect_live_estate(args, cfg.subscriptions, cfg.management_groups)
        m = pipeline.load_objects(snap["resources"], snap.get("errors"), snap.get("collected_types") or [],
                                  where=args.arm_endpoint or os.environ.get("AZURE_ARM_ENDPOINT") or f"Azure ({args.cloud})")
        del snap   # the objects' JSON text: parsed into the model now
    for w in m.warnings[:50]:
        log.warning("%s", safe(w))
    if len(m.warnings) > 50:
        log.warning("... and %d more warnings", len(m.warnings) - 50)
    return m
