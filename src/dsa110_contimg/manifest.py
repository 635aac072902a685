"""One small file per group that stands for its 16 subband files in the DAG.

Snakemake spends time on every input file of every job: a month of real data is 8,640
conversion jobs with 16 files each.  Each group's manifest lists its files with their sizes
and modification times; it is rewritten only when that list changes, and its own mtime is
set to the newest file's, so depending on the manifest reruns a conversion exactly when
depending on the files would (a file replaced, touched or added), and rebuilding the cache
directory changes nothing.
"""

from __future__ import annotations

import json
import os

from .atomic import atomic_path


def manifest_path(cache_dir: str, group: str) -> str:
    """``<cache_dir>/manifests/<date>/<group>.json``."""
    return os.path.join(cache_dir, "manifests", group[:10], f"{group}.json")


def write_manifest(path: str, files: list[str]) -> str:
    """Write (when its content changed) the manifest of ``files`` at ``path`` and set its mtime
    to the newest file's; returns ``path``.  A file that is missing raises FileNotFoundError."""
    entries, newest = [], 0
    for f in sorted(files):
        st = os.stat(f)
        entries.append([os.path.abspath(f), st.st_size, st.st_mtime_ns])
        newest = max(newest, st.st_mtime_ns)
    text = json.dumps({"files": entries}, indent=0)
    try:
        with open(path) as fh:
            same = fh.read() == text
    except FileNotFoundError:
        same = False
    if not same:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "w") as fh:
            fh.write(text)
    if os.stat(path).st_mtime_ns != newest:
        os.utime(path, ns=(newest, newest))
    return path
