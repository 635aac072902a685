"""The per-group manifest stands for a group's files in the DAG: same rerun decisions."""

from __future__ import annotations

import os
import time

from dsa110_contimg.manifest import manifest_path, write_manifest


def test_manifest_tracks_the_files_mtime_and_content(tmp_path):
    files = []
    for k in range(3):
        p = tmp_path / "raw" / f"2026-01-15T09:00:0{k}_sb0{k}.hdf5"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x" * (k + 1))
        os.utime(p, ns=(10**18 + k, 10**18 + k))
        files.append(str(p))
    path = manifest_path(str(tmp_path / ".cache"), "2026-01-15T09:00:00")
    assert path.endswith("manifests/2026-01-15/2026-01-15T09:00:00.json")
    write_manifest(path, files)
    assert os.stat(path).st_mtime_ns == 10**18 + 2  # the newest file's, not now
    text = open(path).read()
    # unchanged files: the manifest is neither rewritten nor touched
    write_manifest(path, files)
    assert open(path).read() == text and os.stat(path).st_mtime_ns == 10**18 + 2
    # deleted cache: rebuilt identical, same mtime (no rerun of a conversion)
    os.unlink(path)
    write_manifest(path, files)
    assert open(path).read() == text and os.stat(path).st_mtime_ns == 10**18 + 2
    # a file replaced by a newer one: new content, mtime moves with it (the conversion reruns)
    now = time.time_ns()
    with open(files[0], "wb") as fh:
        fh.write(b"yyyy")
    write_manifest(path, files)
    assert open(path).read() != text and os.stat(path).st_mtime_ns >= now
