"""What every command shares: exit codes, the usage error, terminal-safe text, the logger."""
from __future__ import annotations

import logging
import re

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
SEVERITY_CHOICES = ("critical", "high", "medium", "low", "informational", "never")
log = logging.getLogger("auditor")
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """Terminal-inert text: no escape sequences, control or bidi characters."""
    return _TERMINAL_UNSAFE.sub("", str(text))


class UsageError(Exception):
    pass
