"""Start-up costs every job would pay again, cached on disk once.

A workflow job is a fresh Python process.  Two costs recur in each of them and dwarf a
small group's work:

- pyuvdata's numba kernels (baseline numbers) are compiled on first call, ~1.5-3 s per
  process, because pyuvdata does not ask numba to cache them; :func:`cache_pyuvdata_jit`
  turns numba's own on-disk cache on for them.
- astropy parses its bundled IERS-A and IERS-B tables (CDS text, ~0.7 s) on the first
  time conversion; :func:`bundled_iers_table` keeps the parsed table as a pickle keyed by
  the astropy and astropy-iers-data versions.

Both caches live in :func:`cache_dir`: ``$DSA110_CACHE_DIR`` or ``<venv>/var/dsa110_contimg``
(inside the project's virtual environment, never the user's home).  Where that directory
cannot be written, nothing is cached and everything still works.  The cached objects are
the same values the uncached path computes, so results do not depend on the cache.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import tempfile

log = logging.getLogger(__name__)


def cache_dir() -> str | None:
    """The cache directory (created), or None when it cannot be written."""
    path = os.environ.get("DSA110_CACHE_DIR") or os.path.join(sys.prefix, "var", "dsa110_contimg")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def cache_pyuvdata_jit() -> None:
    """Let numba cache pyuvdata's compiled baseline-number kernels in :func:`cache_dir`."""
    path = cache_dir()
    if path is None:
        return
    import numba
    from numba.core.registry import CPUDispatcher
    from pyuvdata.utils import bls_numba

    numba.config.CACHE_DIR = os.path.join(path, "numba")
    for name in dir(bls_numba):
        f = getattr(bls_numba, name)
        if isinstance(f, CPUDispatcher):
            f.enable_caching()


def bundled_iers_table():
    """astropy's IERS table from its bundled files (no downloads), parsed once per
    astropy / astropy-iers-data version and then read from a pickle in :func:`cache_dir`."""
    from importlib.metadata import version

    from astropy.utils import iers

    path = cache_dir()
    key = f"iers-{version('astropy')}-{version('astropy-iers-data')}.pkl"
    if path is not None and os.path.isfile(os.path.join(path, key)):
        try:
            with open(os.path.join(path, key), "rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError) as err:
            log.warning("unreadable IERS cache %s (%s); parsing the bundled tables", os.path.join(path, key), err)
    table = iers.IERS_Auto.open()
    if path is not None:
        fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(table, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(path, key))
    return table
