"""Subband discovery, grouping by timestamp, and the group ledger.

A *group* is the set of subband files of one ~5-minute chunk.  The 16 files of a
group carry timestamps that jitter by up to tens of seconds, so files are clustered:
sorted by timestamp, a file joins the current group when its timestamp is within
``tolerance_s`` of the group's first (earliest) file, and no subband may appear twice.
The group id is the earliest timestamp.  Groups are complete when they hold
``expected`` distinct subbands and every file's header is readable and consistent;
the others go to the ledger with a reason.
"""

from __future__ import annotations

import csv
import glob
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime

from .atomic import atomic_path
from .uvh5_io import UVH5Error, parse_name, read_header

log = logging.getLogger(__name__)
TS_FMT = "%Y-%m-%dT%H:%M:%S"
LEDGER_COLUMNS = ["group", "n_files", "files_present", "reason"]


@dataclass
class Group:
    group_id: str
    files: dict[int, str] = field(default_factory=dict)  # subband -> path
    reason: str = ""  # empty when complete and readable

    @property
    def ok(self) -> bool:
        return not self.reason


def parse_time(ts: str) -> datetime:
    """Parse an ISO timestamp (``YYYY-MM-DDTHH:MM:SS``, date only allowed) as naive UTC."""
    ts = ts.strip().replace(" ", "T").rstrip("Z")
    return datetime.fromisoformat(ts)


def cluster(paths: list[str], tolerance_s: float) -> list[Group]:
    """Cluster subband file paths into groups by file-name timestamp (pure; no I/O)."""
    entries = []
    for p in paths:
        parsed = parse_name(p)
        if parsed:
            entries.append((parse_time(parsed[0]), parsed[1], p, parsed[0]))
    entries.sort()
    groups: list[Group] = []
    t0 = None
    for t, sb, p, ts in entries:
        g = groups[-1] if groups else None
        if g is None or (t - t0).total_seconds() > tolerance_s or sb in g.files:
            g = Group(ts)
            groups.append(g)
            t0 = t
        g.files[sb] = p
    return groups


def select_range(groups: list[Group], start: str = "", end: str = "") -> list[Group]:
    """Groups whose id lies in [start, end] (UTC; empty bound = open)."""
    lo = parse_time(start) if start else None
    hi = parse_time(end) if end else None
    out = []
    for g in groups:
        t = parse_time(g.group_id)
        if (lo is None or t >= lo) and (hi is None or t <= hi):
            out.append(g)
    return out


def check_complete(groups: list[Group], expected: int) -> list[Group]:
    """Mark groups lacking subbands 0..expected-1 (file names only)."""
    for g in groups:
        missing = [sb for sb in range(expected) if sb not in g.files]
        extra = [sb for sb in g.files if sb >= expected]
        if missing:
            g.reason = f"incomplete: missing subband(s) {', '.join(f'sb{m:02d}' for m in missing)}"
        elif extra:
            g.reason = f"unexpected subband(s) {', '.join(f'sb{m:02d}' for m in extra)} (expected_subbands={expected})"
    return groups


def check_readable(groups: list[Group], time_tol_s: float = 1.0, cache=None) -> list[Group]:
    """Open every file of the complete groups; mark unreadable or inconsistent groups.
    ``cache``: a :class:`~dsa110_contimg.header_cache.HeaderCache` (headers of unchanged files
    are not read again), or None."""
    for g in groups:
        if not g.ok:
            continue
        headers = []
        for sb, p in sorted(g.files.items()):
            try:
                headers.append(cache.header(p) if cache is not None else read_header(p))
            except UVH5Error as err:
                g.reason = f"unreadable: {err}"
                break
        if g.ok:
            g.reason = consistency_problem(headers, time_tol_s) or ""
    return groups


def consistency_problem(headers, time_tol_s: float = 1.0) -> str | None:
    """Describe why subband headers of one group disagree, or None when they agree."""
    ref = headers[0]
    for h in headers[1:]:
        name = os.path.basename(h.path)
        if (h.nblts, h.ntimes, h.nbls, h.npols) != (ref.nblts, ref.ntimes, ref.nbls, ref.npols):
            return (
                f"inconsistent: {name} has Nblts/Ntimes/Nbls/Npols {h.nblts}/{h.ntimes}/{h.nbls}/{h.npols}, "
                f"{os.path.basename(ref.path)} has {ref.nblts}/{ref.ntimes}/{ref.nbls}/{ref.npols}"
            )
        dt = max(abs(h.time_first_jd - ref.time_first_jd), abs(h.time_last_jd - ref.time_last_jd)) * 86400.0
        if dt > time_tol_s:
            return f"inconsistent: integration times of {name} differ from {os.path.basename(ref.path)} by {dt:.1f} s"
        if h.blt_digest and ref.blt_digest and h.blt_digest != ref.blt_digest:
            return f"inconsistent: antennas/baseline order of {name} differ from {os.path.basename(ref.path)}"
    return None


def discover(input_dir: str, *, tolerance_s: float, expected: int, start: str = "", end: str = "",
             read: bool = True, cache=None) -> list[Group]:
    """All groups under ``input_dir`` in [start, end] (empty = open), each complete or with a reason;
    ``tolerance_s`` and ``expected`` as ``group_tolerance_s`` and ``expected_subbands``;
    ``cache``: headers already checked (:func:`check_readable`)."""
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f"input_dir {input_dir!r} does not exist; set input_dir in the config")
    paths = sorted(glob.glob(os.path.join(input_dir, "**", "*_sb[0-9][0-9].hdf5"), recursive=True))
    groups = select_range(cluster(paths, tolerance_s), start, end)
    check_complete(groups, expected)
    if read:
        check_readable(groups, cache=cache)
    return groups


def write_ledger(groups: list[Group], path: str) -> None:
    """Write the ledger CSV (group, n_files, files_present, reason) for groups not converted."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LEDGER_COLUMNS)
        for g in groups:
            if not g.ok:
                present = " ".join(f"sb{sb:02d}" for sb in sorted(g.files))
                w.writerow([g.group_id, len(g.files), present, g.reason])
    skipped = [g for g in groups if not g.ok]
    log.info("%d groups in range, %d skipped", len(groups), len(skipped))
    for g in skipped:
        log.warning("skipped %s: %s", g.group_id, g.reason)
