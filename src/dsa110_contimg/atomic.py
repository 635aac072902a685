"""Atomic products: write under a temporary name beside the target, then rename.

An interrupted run therefore never leaves a file or directory that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(final: str, *, is_dir: bool = False) -> Iterator[str]:
    """Yield a temporary path in the directory of ``final``; rename it on success.

    On any exception the temporary file/directory is removed and ``final`` is
    left untouched.  For directories (e.g. a Measurement Set) an existing
    ``final`` is replaced.
    """
    final = os.path.abspath(final)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    base = os.path.basename(final)
    tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    target = tmp if is_dir else os.path.join(tmp, base)
    if is_dir:
        os.rmdir(tmp)
    try:
        yield target
        if is_dir:
            move_into_place(target, final)
        else:
            os.replace(target, final)
    finally:
        for p in (tmp, target):
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.exists(p):
                os.unlink(p)


def move_into_place(src: str, final: str) -> None:
    """Move ``src`` (file or directory, possibly on another filesystem) to ``final`` atomically.

    A cross-filesystem move first copies to a hidden sibling of ``final`` and then
    renames, so ``final`` appears in one step.
    """
    final = os.path.abspath(final)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    if os.stat(src).st_dev != os.stat(parent).st_dev:
        sibling = os.path.join(parent, f".{os.path.basename(final)}.incoming")
        _remove(sibling)
        shutil.move(src, sibling)
        src = sibling
    old = None
    if os.path.exists(final):
        old = os.path.join(parent, f".{os.path.basename(final)}.old")
        _remove(old)
        os.rename(final, old)
    os.rename(src, final)
    if old:
        _remove(old)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def write_json(path: str, obj, *, default=float) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically; ``default`` converts what json
    cannot (numpy scalars by default)."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, default=default)
