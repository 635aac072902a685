"""Configure CASA to run offline from data inside the virtual environment.

CASA (casatools) reads its configuration from :mod:`casaconfig` when it is first
imported.  By default that means ``~/.casa/config.py`` and a measures directory
in the user's home that it tries to update over the network.  This module points
CASA at the pinned ``casadata`` wheel, disables every automatic update and keeps
its cache inside ``sys.prefix``.  Call :func:`configure_casa` before the first
``import casatools``/``casatasks`` in a process; later calls are harmless.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec


class CasaSetupError(RuntimeError):
    """CASA cannot be configured (missing casadata, or casatools imported too early)."""


def casadata_path() -> str:
    """Return the directory holding CASA's measures/reference data (casadata/__data__)."""
    spec = find_spec("casadata")
    if spec is None or spec.origin is None:
        raise CasaSetupError(
            "The 'casadata' package is not installed; CASA cannot run offline. "
            "Run `make venv` (or `pip install -c constraints.txt casadata`)."
        )
    path = os.path.join(os.path.dirname(spec.origin), "__data__")
    if not os.path.isdir(os.path.join(path, "geodetic")):
        raise CasaSetupError(f"casadata at {path} has no geodetic/ directory; reinstall casadata.")
    return path


def configure_casa(logfile: str | None = None) -> str:
    """Point casaconfig at the offline data; return the measures path.

    Parameters
    ----------
    logfile : str, optional
        Where CASA writes its log.  ``None`` sends it to ``os.devnull`` so that
        no ``casa-*.log`` files appear in the working directory.
    """
    data = casadata_path()
    os.environ.setdefault("CASASITECONFIG", os.path.join(_repo_config_dir(), "casasiteconfig.py"))
    import casaconfig.config as cfg  # noqa: PLC0415  (must precede casatools)

    if "casatools" in sys.modules:
        # casatools reads casaconfig once, at import: it is already configured
        return data
    cachedir = os.path.join(sys.prefix, "casa-cache")
    os.makedirs(cachedir, exist_ok=True)
    cfg.measurespath = data
    cfg.datapath = [data]
    cfg.measures_auto_update = False
    cfg.data_auto_update = False
    cfg.cachedir = cachedir
    cfg.startupfile = os.path.join(cachedir, "startup.py")
    cfg.logfile = os.path.abspath(logfile) if logfile else os.devnull
    cfg.nologger = True
    cfg.nogui = True
    cfg.agg = True
    cfg.log2term = False
    return data


def _repo_config_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "config", "casa"))
