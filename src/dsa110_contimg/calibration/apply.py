"""Applying calibration (CASA applycal) and checking CORRECTED_DATA.

Which tables a group gets is planned in :mod:`.validity` (no CASA).
"""

from __future__ import annotations

import logging

import numpy as np
from casacore import tables

from .. import msmeta
from .casa_calls import apply_tables
from .validity import INTERP, KINDS, ApplyError

log = logging.getLogger(__name__)


def ms_mid_mjd(ms_path: str) -> float:
    """Mid-time (MJD) of an MS: halfway between its first and last integration."""
    tm = msmeta.unique_times_s(ms_path)
    return float(0.5 * (tm[0] + tm[-1]) / 86400.0)


def apply(ms_path: str, gaintables: dict | list, interp: list[str] | None = None) -> dict:
    """Apply the tables (as CASA applycal, through the calibrater tool) to ``ms_path``
    (CORRECTED_DATA), then check it; returns statistics.  ``gaintables``: {K, B, G: path}
    (interpolation nearest / nearest,linear / linear), or a list of paths in apply order
    with ``interp`` (one per table).

    Fails loudly when CORRECTED_DATA is non-finite or all zero where unflagged.
    """
    if isinstance(gaintables, dict):
        order, interp = [gaintables[k] for k in KINDS], [INTERP[k] for k in KINDS]
    else:
        order = list(gaintables)
    apply_tables(ms_path, tables=order, interp=interp, applymode="calflag", calwt=False)
    return check_corrected(ms_path)


def check_corrected(ms_path: str) -> dict:
    """Check CORRECTED_DATA is finite and not zero wherever unflagged (cross-correlations)."""
    with tables.table(ms_path, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        c, f = t.getcol("CORRECTED_DATA"), t.getcol("FLAG")
    cross = (a1 != a2)[:, None, None]
    good = cross & ~f
    n = int(good.sum())
    if n == 0:
        raise ApplyError(f"{ms_path}: every cross-correlation is flagged after applycal")
    vals = c[np.broadcast_to(good, c.shape)]
    bad = int((~np.isfinite(vals)).sum())
    zero = int((vals == 0).sum())
    if bad or zero == vals.size:
        raise ApplyError(f"{ms_path}: CORRECTED_DATA has {bad} non-finite and {zero} zero values among {vals.size} unflagged samples")
    return {"unflagged_fraction": float(n / (cross.sum() * c.shape[1] * c.shape[2])), "nonfinite": bad, "zeros": zero}
