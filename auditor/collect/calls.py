"""One SDK call, run: its keyword arguments from the subject's id, the raw response bodies taken as they come, and
every failure turned into an error record (a 404 on a GET by id, or on a resource's child list, means gone)."""
from __future__ import annotations

from typing import Any, Callable

from azure.core.exceptions import ClientAuthenticationError

from .. import arm
from .schedule import Task


def run_call(client: Callable[[str, str], Any], task: Task) -> tuple[list, dict | None, int]:
    """``(objects, error record or None, pages read)`` of one ARM call; ``client(path, subscription)`` gives the
    SDK client. A refused token raises :class:`ClientAuthenticationError` (nothing can be read)."""
    from azure.core.exceptions import AzureError, DecodeError, HttpResponseError

    c, objs, bad, pages = task.c, [], [], [0]

    def hook(response) -> None:
        pages[0] += 1
        if response.http_response.status_code != 200:
            return
        body = response.context.get("deserialized_data")
        if c.single:
            (objs.append(body) if isinstance(body, dict) else bad.append("the answer is not a JSON object"))
        elif isinstance(body, dict) and isinstance(body.get("value"), list):
            objs.extend(body["value"])
            skim(response.http_response, {"value": [], "nextLink": body.get("nextLink")})
        else:
            bad.append("the answer has no 'value' list")

    scope = f"/subscriptions/{task.subject}" if c.level == "subscription" else task.subject
    try:
        kw = call_kwargs(task)
        op = client(c.client, task.client_sub)
        for attr in c.call.split("."):
            op = getattr(op, attr)
        result = op(raw_response_hook=hook, **kw)
        if not c.single:
            for page in result.by_page():
                for _ in page:
                    pass
                if c.first_page:
                    break
    except ClientAuthenticationError:
        raise  # no token, or ARM refuses it: nothing can be read (collect_estate reports it once)
    except DecodeError as exc:
        return [], error(scope, exc.status_code, f"{c.call}: malformed answer: {short(exc)}", c.type), pages[0]
    except HttpResponseError as exc:
        if exc.status_code == 404 and (c.single or c.level in ("vault", "pe", "zone")):
            # gone between list and get (or between listing a parent and listing its children), or a
            # reference to nothing: ARM answers a child collection of a live parent with a (possibly empty) list
            return [], None, pages[0]
        status = exc.status_code if exc.status_code is not None else None
        return [], error(scope, status, f"{c.call}: {short(exc)}", c.type), pages[0]
    except AzureError as exc:  # connection errors, timeouts, retries exhausted
        return [], error(scope, None, f"{c.call}: {type(exc).__name__}: {short(exc)}", c.type), pages[0]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a body the SDK could not read
        msg = f"{c.call}: malformed answer: {type(exc).__name__}: {short(exc)}"
        return [], error(scope, None, msg, c.type), pages[0]
    if bad:
        return [], error(scope, 200, f"{c.call}: malformed answer: {bad[0]}", c.type), pages[0]
    return objs, None, pages[0]


def call_kwargs(task: Task) -> dict:
    c = task.c
    kw = dict(c.kwargs() if callable(c.kwargs) else c.kwargs)
    if c.id_kw:
        kw[c.id_kw] = task.subject.lstrip("/")
    if c.names:
        _, rg, names = arm.segments(task.subject)
        values = [rg, *names]
        if len(values) < len(c.names) or not all(values[:len(c.names)]):
            raise ValueError(f"cannot read {c.type} names from id {task.subject!r}")
        kw.update(zip(c.names, values))
    return kw


def skim(http_response, stub: dict) -> None:
    """Hand the SDK an empty page (same nextLink) once the raw body is taken: it would otherwise build a model
    object for every item only for us to drop it (a quarter of the client's CPU per request, and memory). The
    SDK's generated code reads the body through ``http_response.json()``, which returns its ``_json`` cache (saving
    a second parse of the body too); where a response keeps no such cache, nothing changes."""
    if hasattr(http_response, "_json"):
        http_response._json = stub


def short(exc: Exception, limit: int = 400) -> str:
    msg = getattr(exc, "message", None) or str(exc)
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[:limit] + "..."


def error(scope: str, status: Any, message: str, *types: str) -> dict:
    return {"scope": scope, "status": status, "message": message, "types": list(types)}
