"""Calibration steps as the workflow runs them: solve on a calibrator group, apply to a group."""

from __future__ import annotations

import logging
import os

import numpy as np
from casacore import tables

from . import apply as apply_mod
from . import qa
from .calibrators import Calibrator
from .model import set_calibrator_model
from .solve import antenna_scores, check_usable, dead_antennas, flag_antennas, pick_refant, solve

log = logging.getLogger(__name__)


def solve_calibrator_group(ms_path: str, cal: Calibrator, config: dict, caldir: str) -> dict:
    """Model, dead-antenna check, reference antenna, K/B/G solves and QA for one group.

    Returns a JSON-serialisable summary (tables, refant, flagged antennas, statistics).
    """
    cc = config["calibration"]
    os.makedirs(caldir, exist_ok=True)
    check_usable(ms_path, cc["min_unflagged"])
    set_calibrator_model(ms_path, cal, config["telescope"], workdir=caldir)
    scores = antenna_scores(ms_path)
    dead = dead_antennas(scores, cc["dead_fraction"])
    flag_antennas(ms_path, dead)
    live = [s for s in scores if s["antenna"] not in dead]
    refant = pick_refant(ms_path, live, cc["refant"])
    tabs = solve(ms_path, caldir, cc, refant)
    with tables.table(ms_path, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    working = (a1 != a2) & ~np.isin(a1, dead) & ~np.isin(a2, dead)
    rfi_channels = f[working].all(axis=(0, 2)) if working.any() else None
    names = tables.table(f"{ms_path}::ANTENNA", ack=False).getcol("NAME")
    stats = {k: qa.table_stats(p, k, rfi_channels if k == "B" else None) for k, p in tabs.items()}
    return {
        "ms": ms_path,
        "calibrator": cal.name,
        "mid_mjd": apply_mod.ms_mid_mjd(ms_path),
        "refant": refant,
        "dead_antennas": [str(names[a]) for a in dead],
        "antenna_scores": scores,
        "tables": tabs,
        "stats": stats,
    }


def calsets_from_summaries(summaries: list[dict]) -> list[apply_mod.CalSet]:
    return [apply_mod.CalSet(os.path.basename(s["ms"]), s["calibrator"], s["mid_mjd"], s["tables"]) for s in summaries]
