"""Delay (K), bandpass (B) and complex gain (G) solutions on a calibrator group.

Order: K (solint inf, one delay per antenna and polarization), then B (solint inf,
``solnorm=True``, K applied), then G (amplitude and phase, or phase only, per
``gain_solint``, K and B applied).  MODEL_DATA must hold the calibrator model with
its true flux density, so G's amplitudes fix the flux scale.  ``fast`` mode averages:
the bandpass is solved on bins of ``fast_chanbin`` channels, gains on ``fast_timebin``,
and baselines shorter than ``fast_uvrange`` are left out.

Caltable names come from the MS name: ``<caldir>/<splitext(basename(ms))[0]>.{K,B,G}``.
All solutions refer to a reference antenna, chosen by :func:`pick_refant` unless
configured.
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
from casacore import tables

from .. import msmeta
from ..settings import Calibration
from .casa_calls import solve_table

log = logging.getLogger(__name__)


class CalibrationError(RuntimeError):
    """A calibration step cannot be done on this input; the message says why."""


def caltable_prefix(ms_path: str, caldir: str) -> str:
    """``<caldir>/<ms name without extension>`` (os.path.splitext; never string stripping)."""
    return os.path.join(caldir, os.path.splitext(os.path.basename(ms_path.rstrip("/")))[0])


def antenna_scores(ms_path: str) -> list[dict]:
    """Per antenna: unflagged fraction, amplitude stability and phase scatter of its
    cross-correlations with all others (DATA, after flagging); and the score

        score = unflagged_fraction / (1 + amp_cv + phase_scatter_rad)

    with amp_cv the coefficient of variation over time of the antenna's mean amplitude
    and phase_scatter_rad the rms over time of its (baseline-averaged, model-divided)
    phase about the mean.  Antennas without data score 0.
    """
    with tables.table(ms_path, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        data, flag, tm = t.getcol("DATA"), t.getcol("FLAG"), t.getcol("TIME")
        model = t.getcol("MODEL_DATA")
    names = msmeta.antenna_names(ms_path)
    ratio = np.where(np.abs(model) > 0, data / np.where(np.abs(model) > 0, model, 1), 0)
    ut, tix = np.unique(tm, return_inverse=True)
    out = []
    for a in range(len(names)):
        rows = ((a1 == a) | (a2 == a)) & (a1 != a2)
        if not rows.any():
            out.append({"antenna": a, "name": names[a], "unflagged": 0.0, "score": 0.0})
            continue
        good = ~flag[rows]
        unfl = float(good.mean())
        if unfl == 0:
            out.append({"antenna": a, "name": names[a], "unflagged": 0.0, "score": 0.0})
            continue
        r = np.where(good, ratio[rows], 0)
        # orient so the antenna is always the first of the pair
        r = np.where((a2[rows] == a)[:, None, None], np.conj(r), r)
        per_t = np.zeros(len(ut), complex)
        amp_t = np.zeros(len(ut))
        cnt = np.zeros(len(ut))
        np.add.at(per_t, tix[rows], r.sum(axis=(1, 2)) / np.maximum(np.abs(r).sum(axis=(1, 2)), 1e-30))
        np.add.at(amp_t, tix[rows], np.abs(r).sum(axis=(1, 2)))
        np.add.at(cnt, tix[rows], good.sum(axis=(1, 2)))
        ok = cnt > 0
        amp = amp_t[ok] / cnt[ok]
        amp_cv = float(np.std(amp) / np.mean(amp)) if amp.size and np.mean(amp) > 0 else 1.0
        ph = np.angle(per_t[ok] * np.conj(np.mean(per_t[ok])))
        scatter = float(np.sqrt(np.mean(ph**2))) if ph.size else np.pi
        signal = float(np.median(np.abs(ratio[rows][good])))
        out.append({"antenna": a, "name": names[a], "unflagged": unfl, "amp_cv": amp_cv, "phase_scatter_rad": scatter,
                    "signal": signal, "score": unfl / (1.0 + amp_cv + scatter)})
    return out


def dead_antennas(scores: list[dict], fraction: float) -> list[int]:
    """Antennas with data whose median |DATA/MODEL| is below ``fraction`` of the array median
    (``calibration.dead_fraction``); ``scores`` from :func:`antenna_scores`.

    A dead antenna's cross-correlations hold noise only, so its data/model amplitude
    is the noise-to-model ratio, far below the ~1 (times the gains) of working ones.
    """
    # antennas without unflagged data carry no "signal"
    sig = [s["signal"] for s in scores if s["unflagged"] > 0]
    if not sig:
        return []
    med = float(np.median(sig))
    return [s["antenna"] for s in scores if s["unflagged"] > 0 and s["signal"] < fraction * med]


def flag_antennas(ms_path: str, antennas: list[int]) -> None:
    """Flag every row of the given antenna indices."""
    if not antennas:
        return
    with tables.table(ms_path, readonly=False, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        rows = np.isin(a1, antennas) | np.isin(a2, antennas)
        f = t.getcol("FLAG")
        f[rows] = True
        t.putcol("FLAG", f)
        t.putcol("FLAG_ROW", f.all(axis=(1, 2)))


def pick_refant(ms_path: str, scores: list[dict], configured: str) -> str:
    """Reference antenna name: ``configured`` (``calibration.refant``: a name or an index) if
    not empty (checked: present and at least half unflagged), else the best
    :func:`antenna_scores` score."""
    if configured:
        match = [s for s in scores if s["name"] == configured or str(s["antenna"]) == configured]
        if not match:
            raise CalibrationError(f"{ms_path}: reference antenna {configured!r} is not in the ANTENNA table")
        if match[0]["unflagged"] < 0.5:
            raise CalibrationError(
                f"{ms_path}: reference antenna {configured!r} is {100 * (1 - match[0]['unflagged']):.0f}% flagged; "
                "choose another (calibration.refant) or leave it empty for automatic choice"
            )
        return match[0]["name"]
    best = max(scores, key=lambda s: s["score"])
    if best["score"] <= 0:
        raise CalibrationError(f"{ms_path}: no antenna has unflagged data; cannot choose a reference antenna")
    return best["name"]


def check_usable(ms_path: str, min_unflagged: float) -> float:
    """Fraction of unflagged cross-correlation data; raise if below ``min_unflagged``."""
    with tables.table(ms_path, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    cross = a1 != a2
    frac = float((~f[cross]).mean()) if cross.any() else 0.0
    if frac < min_unflagged:
        raise CalibrationError(
            f"{ms_path}: only {100 * frac:.1f}% of the calibrator data are unflagged "
            f"(calibration.min_unflagged = {100 * min_unflagged:.0f}%); not solving on this group"
        )
    return frac


def solve(ms_path: str, *, caldir: str, refant: str, calibration: Calibration) -> dict[str, str]:
    """Run K, B and G on ``ms_path`` (MODEL_DATA set); return {"K": path, "B": path, "G": path}.

    Tables go to ``<caldir>/<ms name>.{K,B,G}`` (replaced if present).  ``calibration``
    supplies uvrange, minsnr, gain_solint, phase_only and the fast-mode settings.
    """
    os.makedirs(caldir, exist_ok=True)
    prefix = caltable_prefix(ms_path, caldir)
    out = {k: f"{prefix}.{k}" for k in ("K", "B", "G")}
    for p in out.values():
        shutil.rmtree(p, ignore_errors=True)
    cal = calibration
    uvrange = cal.fast_uvrange if cal.fast else cal.uvrange
    common = {"refant": refant, "uvrange": uvrange, "minsnr": cal.minsnr}
    # fast: bandpass solved on bins of fast_chanbin channels, gains on fast_timebin
    b_solint = f"inf,{cal.fast_chanbin}ch" if cal.fast else "inf"
    g_solint = cal.fast_timebin if cal.fast else cal.gain_solint
    solve_table(ms_path, gaintype="K", caltable=out["K"], solint="inf", combine="scan", **common)
    _must_exist(out["K"], "delay (K)")
    solve_table(ms_path, gaintype="B", caltable=out["B"], solint=b_solint, combine="scan", solnorm=True,
                gaintables=[out["K"]], **common)
    _must_exist(out["B"], "bandpass (B)")
    solve_table(ms_path, gaintype="G", caltable=out["G"], calmode="p" if cal.phase_only else "ap", solint=g_solint,
                gaintables=[out["K"], out["B"]], **common)
    _must_exist(out["G"], "gain (G)")
    return out


def _must_exist(path: str, what: str) -> None:
    if not os.path.isdir(path):
        raise CalibrationError(f"CASA wrote no {what} table at {path}; see the CASA log in the rule's log file")
