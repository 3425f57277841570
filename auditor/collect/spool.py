"""Where collected objects wait: :class:`Spool` writes each object's JSON text to a temporary file as it comes;
:class:`Collected` reads them back in id order."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from typing import Callable

class Spool:
    """The objects a collector keeps, written as compact JSON text to a temporary file as they come, so that memory
    does not grow with the estate: only an index stays in memory (sort key, id for de-duplication, file, offset,
    length). The stdlib's JSON round-trips whatever the SDK's parse gave (big integers, NaN, lone surrogates)."""

    def __init__(self, path: str | None = None) -> None:
        # a worker spools to a named file in the run's private directory, for the parent to :meth:`take`
        self.path = path
        self.files = [open(path, "wb+") if path else tempfile.TemporaryFile()]  # noqa: SIM115 - closed with it
        self.index: list[tuple[str, str | None, int, int, int]] = []
        self._end = 0

    def extend(self, objs) -> None:
        fh, index = self.files[0], self.index
        for obj in objs:
            rid = obj.get("id") if isinstance(obj, dict) else None
            data = json.dumps(obj, separators=(",", ":")).encode("ascii")
            fh.write(data)
            index.append((str(rid or "").lower(), rid.lower() if isinstance(rid, str) else None, 0, self._end,
                          len(data)))
            self._end += len(data)

    def flush(self) -> None:
        self.files[0].flush()

    def take(self, path: str, index: list[tuple], keep: Callable[[str | None], bool]) -> None:
        """Adopt a worker's saved spool: the entries ``keep`` accepts (by id)."""
        fh = open(path, "rb")  # noqa: SIM115 - held by the spool, closed with it
        os.unlink(path)   # the open file keeps the data; nothing is left behind
        self.files.append(fh)
        n = len(self.files) - 1
        self.index.extend((key, rid, n, off, size) for key, rid, _, off, size in index if keep(rid))

    def collected(self) -> "Collected":
        self.flush()
        self.index.sort(key=lambda e: e[0])
        return Collected(self.files, [e[2:] for e in self.index])


class Collected(Sequence):
    """The collected objects, in id order, read from the collector's spool files and parsed when read (each read
    parses anew). :meth:`texts` gives each object's JSON text, for writing a snapshot without parsing it."""

    def __init__(self, files: list, entries: list[tuple[int, int, int]]):
        self._fds = [f.fileno() for f in files]
        self._files = files   # kept open (the data lives as long as they do)
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def _text(self, entry: tuple[int, int, int]) -> str:
        n, off, size = entry
        return os.pread(self._fds[n], size, off).decode("ascii")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [json.loads(self._text(e)) for e in self._entries[i]]
        return json.loads(self._text(self._entries[i]))

    def __iter__(self):
        return (json.loads(self._text(e)) for e in self._entries)

    def texts(self):
        return map(self._text, self._entries)

    @property
    def size(self) -> int:
        """Bytes of JSON text."""
        return sum(e[2] for e in self._entries)

