"""A cache of UVH5 subband headers, so planning a month of real data does not reopen 138,240 files.

Discovery (:func:`dsa110_contimg.grouping.check_readable`) and the calibration plan
(:func:`dsa110_contimg.selection.group_midpoint`) read every subband's header on every
Snakemake invocation.  The cache stores each file's checked header -- or the reason it
could not be read -- keyed by its absolute path, size and modification time (ns): a file
that is re-copied, truncated or rewritten gets a new key and is read again.

Storage: one SQLite file (``<output_dir>/.cache/uvh5_headers.sqlite3``), table
``headers(path, size, mtime_ns, header_json, error)``.  Arrays are stored as lists.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3

import numpy as np

from .uvh5_io import SubbandHeader, UVH5Error, read_header

ARRAYS = ("freqs_hz", "channel_width_hz", "pols")


def _to_json(h: SubbandHeader) -> str:
    d = dataclasses.asdict(h)
    for k in ARRAYS:
        d[k] = np.asarray(d[k]).tolist()
    return json.dumps(d, default=lambda v: v.item() if hasattr(v, "item") else str(v))


def _from_json(text: str) -> SubbandHeader:
    d = json.loads(text)
    for k in ARRAYS:
        d[k] = np.asarray(d[k], dtype=int if k == "pols" else float)
    return SubbandHeader(**d)


class HeaderCache:
    """Checked subband headers by (path, size, mtime); ``path`` None: no cache (read every time).

    :meth:`header` returns the header or raises the :class:`~dsa110_contimg.uvh5_io.UVH5Error`
    the file gave (cached too).  Headers read with ``digest=True`` serve both callers."""

    def __init__(self, path: str | None):
        self.path = path
        self._con = None
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._con = sqlite3.connect(path, timeout=60)
            self._con.execute("CREATE TABLE IF NOT EXISTS headers (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
                              "header_json TEXT, error TEXT)")
        self.reads = 0  # files opened (cache misses), for tests and progress

    def header(self, path: str) -> SubbandHeader:
        if self._con is None:
            self.reads += 1
            return read_header(path)
        ap = os.path.abspath(path)
        st = os.stat(ap)
        row = self._con.execute("SELECT header_json, error FROM headers WHERE path = ? AND size = ? AND mtime_ns = ?",
                                (ap, st.st_size, st.st_mtime_ns)).fetchone()
        if row is not None:
            if row[1]:
                raise UVH5Error(row[1])
            h = _from_json(row[0])
            return dataclasses.replace(h, path=path)
        self.reads += 1
        try:
            h = read_header(path)
        except UVH5Error as err:
            self._store(ap, st, None, str(err))
            raise
        self._store(ap, st, _to_json(h), None)
        return h

    def _store(self, ap: str, st: os.stat_result, header_json: str | None, error: str | None) -> None:
        with self._con:
            self._con.execute("INSERT OR REPLACE INTO headers VALUES (?,?,?,?,?)", (ap, st.st_size, st.st_mtime_ns, header_json, error))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
