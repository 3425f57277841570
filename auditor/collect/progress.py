"""Progress on stderr while a live run reads (:class:`Progress`), and a worker process's progress sent to the parent
through its pipe (:class:`PipeProgress`)."""
from __future__ import annotations

import logging
import re
import sys
from collections import Counter

_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Progress:
    """Progress on stderr: a rich bar when stderr is a terminal, else one plain line per finished subscription;
    with ``structured`` (``--log-format json``) one log record per finished subscription instead (logger
    ``auditor.progress``, message "subscription done", counts and timings in ``record.fields``)."""

    LOG = logging.getLogger("auditor.progress")

    def __init__(self, stream=None, rich: bool | None = None, structured: bool = False):
        self.stream = stream or sys.stderr
        self.structured = structured
        self._rich = False if structured else (self.stream.isatty() if rich is None else rich)
        self._bar = self._task = None
        self.names: dict[str, str] = {}

    def start(self, subscriptions: dict[str, str]) -> None:
        self.names = subscriptions
        if self._rich:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("subscriptions", total=len(subscriptions))

    def call_done(self, calls_done: int, calls_total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"subscriptions ({calls_done}/{calls_total} reads)")

    def subscription_done(self, sub: str, counts: Counter, errors: int, seconds: float) -> None:
        if self.structured:
            self.LOG.info("subscription done", extra={"fields": {
                "event": "subscription_done", "subscription_id": sub, "subscription_name": self.names.get(sub) or "",
                "objects": int(sum(counts.values())), "counts": {t: int(n) for t, n in sorted(counts.items())},
                "errors": int(errors), "seconds": round(float(seconds), 3)}})
            return
        name = _TERMINAL_UNSAFE.sub("", self.names.get(sub) or sub)  # display names are input: no escapes
        what = ", ".join(f"{n} {t.rsplit('/', 1)[-1]}" for t, n in sorted(counts.items())) or "nothing"
        line = f"collected {name} ({sub}): {what}; {errors} error(s) in {seconds:.1f}s"
        if self._bar is not None:
            self._bar.advance(self._task)
            self._bar.console.print(line)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class PipeProgress:
    """A worker's progress, sent to the parent."""

    def __init__(self, conn):
        self.conn = conn

    def call_done(self, done: int, total: int) -> None:
        self.conn.send(("call", done, total))

    def subscription_done(self, sub: str, counts: Counter, errors: int, seconds: float) -> None:
        self.conn.send(("sub", sub, dict(counts), errors, seconds))

