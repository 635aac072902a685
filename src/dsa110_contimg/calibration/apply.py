"""Validity windows, the caltable registry, and applying calibration.

Each solved calibrator group yields K, B and G tables.  K and B are valid for
``bp_validity_h`` and G for ``gain_validity_h`` hours, centred on the calibrator
group's mid-time.  For a science group the tables of each kind whose window covers
the group's mid-time are candidates, and the calibrator nearest in time wins.  A
group that no valid table covers is not calibrated (it goes to the ledger).

Planning (which tables for which group) needs no CASA; python-casacore is imported
only by the functions that open a Measurement Set.

Registry: SQLite table ``caltables(path, kind, calibrator, cal_group, mid_mjd,
valid_start_mjd, valid_end_mjd, created)``, one row per table.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from ..casa_env import configure_casa

log = logging.getLogger(__name__)

KINDS = ("K", "B", "G")


class ApplyError(RuntimeError):
    """Calibration cannot be applied; the message says why."""


@dataclass(frozen=True)
class CalSet:
    """A calibrator group's solutions."""

    cal_group: str
    calibrator: str
    mid_mjd: float
    tables: dict  # kind -> path


def windows(mid_mjd: float, bp_validity_h: float, gain_validity_h: float) -> dict[str, tuple[float, float]]:
    """kind -> (valid_start_mjd, valid_end_mjd), centred on ``mid_mjd``."""
    half = {"K": bp_validity_h / 48.0, "B": bp_validity_h / 48.0, "G": gain_validity_h / 48.0}
    return {k: (mid_mjd - h, mid_mjd + h) for k, h in half.items()}


def select_tables(calsets: list[CalSet], mid_mjd: float, bp_validity_h: float, gain_validity_h: float) -> tuple[dict, dict]:
    """For a science group at ``mid_mjd``: kind -> chosen table path, and kind -> its record.

    Raises :class:`ApplyError` naming the missing kind when no window covers the group.
    """
    chosen, info = {}, {}
    for kind in KINDS:
        best = None
        for cs in calsets:
            lo, hi = windows(cs.mid_mjd, bp_validity_h, gain_validity_h)[kind]
            if lo <= mid_mjd <= hi and (best is None or abs(cs.mid_mjd - mid_mjd) < abs(best.mid_mjd - mid_mjd)):
                best = cs
        if best is None:
            validity = bp_validity_h if kind in ("K", "B") else gain_validity_h
            raise ApplyError(
                f"no {kind} table valid at MJD {mid_mjd:.5f}: no calibrator transit within "
                f"{validity / 2:g} h ({'bp' if kind in ('K', 'B') else 'gain'}_validity_h = {validity:g})"
            )
        lo, hi = windows(best.mid_mjd, bp_validity_h, gain_validity_h)[kind]
        chosen[kind] = best.tables[kind]
        info[kind] = {"path": best.tables[kind], "calibrator": best.calibrator, "cal_group": best.cal_group,
                      "cal_mid_mjd": best.mid_mjd, "valid_start_mjd": lo, "valid_end_mjd": hi}
    return chosen, info


def register(db_path: str, cs: CalSet, bp_validity_h: float, gain_validity_h: float) -> None:
    """Insert (or replace) the tables of ``cs`` in the SQLite registry."""
    os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    win = windows(cs.mid_mjd, bp_validity_h, gain_validity_h)
    with sqlite3.connect(db_path, timeout=60) as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS caltables (path TEXT PRIMARY KEY, kind TEXT, calibrator TEXT, cal_group TEXT, "
            "mid_mjd REAL, valid_start_mjd REAL, valid_end_mjd REAL, created TEXT)"
        )
        for kind, path in cs.tables.items():
            con.execute(
                "INSERT OR REPLACE INTO caltables VALUES (?,?,?,?,?,?,?,?)",
                (os.path.abspath(path), kind, cs.calibrator, cs.cal_group, cs.mid_mjd, *win[kind], time.strftime("%Y-%m-%dT%H:%M:%S")),
            )


def ms_mid_mjd(ms_path: str) -> float:
    """Mid-time (MJD) of an MS: halfway between its first and last integration."""
    from casacore import tables  # noqa: PLC0415

    with tables.table(ms_path, ack=False) as t:
        tm = t.getcol("TIME")
    return float(0.5 * (tm.min() + tm.max()) / 86400.0)


def apply(ms_path: str, gaintables: dict) -> dict:
    """applycal K, B, G to ``ms_path`` (CORRECTED_DATA), then check it; returns statistics.

    Fails loudly when CORRECTED_DATA is non-finite or all zero where unflagged.
    """
    configure_casa()
    from casatasks import applycal  # noqa: PLC0415

    order = [gaintables[k] for k in KINDS]
    applycal(vis=ms_path, gaintable=order, interp=["nearest", "nearest,linear", "linear"], calwt=False, flagbackup=False, applymode="calflag")
    return check_corrected(ms_path)


def check_corrected(ms_path: str) -> dict:
    """Check CORRECTED_DATA is finite and not zero wherever unflagged (cross-correlations)."""
    from casacore import tables  # noqa: PLC0415

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
