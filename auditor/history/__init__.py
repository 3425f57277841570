"""Run history: one SQLite file that remembers every audit run and how each finding's state changed.

Layout (stdlib ``sqlite3``; WAL journal, a busy timeout, one ``BEGIN IMMEDIATE`` transaction per run):

``runs``       one row per run: id, uid, scope, time, tool and rule versions, inputs, subscriptions, the summary
               (state counts, compliance %, NonCompliant by severity and by rule), new and resolved counts.
``intervals``  one row per *state interval* of a finding: ``(scope, finding_id, state, first_run, last_run,
               end_run, message)``. ``last_run`` is NULL while the interval is open (the finding still holds that
               state in the scope's latest run); on a change it becomes the last run that saw the state and
               ``end_run`` the run that first saw it otherwise. Only the listed states (NonCompliant, Error,
               Exempt) have intervals: Compliant / NotApplicable / not evaluated is the absence of one. A run in
               which nothing changed therefore writes its ``runs`` row and nothing else: the file grows with
               changes, not with runs.
``findings``   what a finding_id stands for (rule, severity, title, resource), written when it first opens.

A *scope* is one timeline (``--history-scope``; by default ``all``, or ``rules:ID,...`` when ``--rule`` narrows the
audit): the previous run of the same scope is the baseline. Two runs writing one file at once serialize on the
write lock (the second waits, up to the busy timeout, and then sees the first as its previous run); a run killed
half-way rolls back as a whole (SQLite's atomic commit), leaving no partial run.
"""
from __future__ import annotations

from .command import SECTIONS, add_history_command_options, cmd_history
from .read import report, report_meta, trend_for_report
from .store import (BUSY_TIMEOUT_S, SCHEMA_VERSION, TRACKED, HistoryError, Recorded, connect, iso,
                    parse_time, record_run)

__all__ = ["SECTIONS", "add_history_command_options", "cmd_history", "report", "report_meta", "trend_for_report",
           "BUSY_TIMEOUT_S", "SCHEMA_VERSION", "TRACKED", "HistoryError", "Recorded", "connect", "iso", "parse_time",
           "record_run"]
