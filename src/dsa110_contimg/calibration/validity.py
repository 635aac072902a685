"""Validity windows of calibration tables, the choice of tables for a group, and the
caltable registry -- pure planning, no CASA (the workflow plans a dry run with it).

Each solved calibrator group yields K, B and G tables.  K and B are valid for
``bp_validity_h`` and G for ``gain_validity_h`` hours, centred on the calibrator
group's mid-time.  For a science group the tables of each kind whose window covers
the group's mid-time are candidates, and the calibrator nearest in time wins.  A
group that no valid table covers is not calibrated (it goes to the ledger).

Registry: SQLite table ``caltables(path, kind, calibrator, cal_group, mid_mjd,
valid_start_mjd, valid_end_mjd, created)``, one row per table.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

KINDS = ("K", "B", "G")
INTERP = {"K": "nearest", "B": "nearest,linear", "G": "linear"}
"""applycal interpolation per table kind (field-gain tables are G tables)."""


class ApplyError(RuntimeError):
    """Calibration cannot be applied; the message says why."""


@dataclass(frozen=True, kw_only=True)
class CalSet:
    """A calibrator group's solutions: its group id, calibrator name, mid-time (MJD) and
    its tables (kind K/B/G -> caltable path)."""

    cal_group: str
    calibrator: str
    mid_mjd: float
    tables: dict[str, str]


def windows(mid_mjd: float, *, bp_validity_h: float, gain_validity_h: float) -> dict[str, tuple[float, float]]:
    """kind -> (valid_start_mjd, valid_end_mjd), centred on ``mid_mjd``; validities in hours."""
    half = {"K": bp_validity_h / 48.0, "B": bp_validity_h / 48.0, "G": gain_validity_h / 48.0}
    return {k: (mid_mjd - h, mid_mjd + h) for k, h in half.items()}


def nearest_valid(calsets: list[CalSet], mid_mjd: float, kind: str, *, bp_validity_h: float,
                  gain_validity_h: float) -> CalSet | None:
    """The calibrator set nearest in time whose ``kind`` window covers ``mid_mjd``, or None.

    Every window of a kind has the same half-width around its set's mid-time, so some window
    covers the group exactly when the nearest set's does."""
    if not calsets:
        return None
    best = min(calsets, key=lambda cs: abs(cs.mid_mjd - mid_mjd))
    lo, hi = windows(best.mid_mjd, bp_validity_h=bp_validity_h, gain_validity_h=gain_validity_h)[kind]
    return best if lo <= mid_mjd <= hi else None


def select_tables(calsets: list[CalSet], mid_mjd: float, *, bp_validity_h: float, gain_validity_h: float,
                  kinds: tuple[str, ...] = KINDS) -> tuple[dict, dict]:
    """For a group at ``mid_mjd``: kind -> chosen table path, and kind -> its record
    (``calibration.bp_validity_h`` / ``gain_validity_h``, hours), for each of ``kinds``.

    Raises :class:`ApplyError` naming the missing kind when no window covers the group.
    """
    chosen, info = {}, {}
    for kind in kinds:
        best = nearest_valid(calsets, mid_mjd, kind, bp_validity_h=bp_validity_h, gain_validity_h=gain_validity_h)
        if best is None:
            validity = bp_validity_h if kind in ("K", "B") else gain_validity_h
            raise ApplyError(
                f"no {kind} table valid at MJD {mid_mjd:.5f}: no calibrator transit within "
                f"{validity / 2:g} h ({'bp' if kind in ('K', 'B') else 'gain'}_validity_h = {validity:g})"
            )
        lo, hi = windows(best.mid_mjd, bp_validity_h=bp_validity_h, gain_validity_h=gain_validity_h)[kind]
        chosen[kind] = best.tables[kind]
        info[kind] = {"path": best.tables[kind], "calibrator": best.calibrator, "cal_group": best.cal_group,
                      "cal_mid_mjd": best.mid_mjd, "valid_start_mjd": lo, "valid_end_mjd": hi,
                      "age_h": abs(mid_mjd - best.mid_mjd) * 24.0}
    return chosen, info


AGE_GRADES = ("fresh", "aging", "stale")


def grade(age_h: float, limits_h) -> str:
    """``fresh`` / ``aging`` / ``stale`` for a table ``age_h`` hours from the group, by the
    three limits ``limits_h`` (``calibration.age_grades_h``); ``expired`` beyond the last."""
    for name, lim in zip(AGE_GRADES, limits_h):
        if abs(age_h) <= lim:
            return name
    return "expired"


def register(db_path: str, cs: CalSet, *, bp_validity_h: float, gain_validity_h: float) -> None:
    """Insert (or replace) the tables of ``cs`` in the SQLite registry."""
    os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    win = windows(cs.mid_mjd, bp_validity_h=bp_validity_h, gain_validity_h=gain_validity_h)
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
