"""Phase self-calibration of a science group against a sky model in MODEL_DATA.

Gains solved at the calibrator transit drift in phase before a science group is
observed (tens of minutes later).  The residual antenna phases scatter flux of every
bright source into the image as sidelobe-like errors, which raise the image rms above
the thermal noise.  One phase per antenna and polarization over the whole group
(``solint='inf'``), solved by CASA ``gaincal`` against MODEL_DATA, removes them.
Phase-only: amplitudes (and with them the flux scale, and any drift the normalisation
is meant to see) are not touched.  :func:`selfcal_static_beam` is the loop the static
beam (:mod:`.beam_equalize`) runs: two solves, each applied to the original data.

Convention (CASA): V_ij(observed) = g_i g_j^* V_ij(true), so the correction divides by
g_i g_j^*; polarization p of the data (XX, YY) uses the solutions of feed p on both
antennas.  Data of an antenna without a solution (flagged by ``minsnr``, or no data) are flagged,
as CASA ``applycal`` would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile

import numpy as np
from casacore import tables

from ..calibration.casa_calls import solve_table

log = logging.getLogger(__name__)


class SelfCalFailed(RuntimeError):
    """CASA gaincal found no good phase solution (e.g. its solver did not converge)."""


def best_refant(ms_path: str) -> int:
    """The antenna with the most unflagged cross-correlation samples."""
    with tables.table(ms_path, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    good = (~f).sum(axis=(1, 2))
    cross = a1 != a2
    n = np.bincount(a1[cross], good[cross], minlength=max(a1.max(), a2.max()) + 1)
    n += np.bincount(a2[cross], good[cross], minlength=n.size)
    return int(np.argmax(n))


SECOND_PASS_MIN_DEG = 10.0
"""A second self-calibration pass only when the first pass's rms phase exceeds this (deg):
below it the refinement is a few hundredths of a degree (0.02 deg after 5.5 deg rms on a
full-size group) and would cost another gaincal."""

SELFCAL_MINSNR = 3.0
"""gaincal's minimum SNR of a self-calibration phase solution (the group's whole integration)."""


def solve_phases(ms_path: str, workdir: str, *, minsnr: float = SELFCAL_MINSNR) -> tuple[np.ndarray, np.ndarray, dict]:
    """Solve one phase per antenna and feed on DATA vs MODEL_DATA (CASA gaincal's calibrater calls).

    Returns (unit-modulus gains (Nant, Nfeed), which have a solution (Nant, Nfeed), a
    summary for the QA record: reference antenna, solutions, how many failed, rms phase).
    Raises :class:`SelfCalFailed` when gaincal writes no table (no good solution at all).
    """
    with tables.table(f"{ms_path}::ANTENNA", ack=False) as t:
        names = t.getcol("NAME")
    with tables.table(ms_path, ack=False) as t:
        present = np.union1d(np.unique(t.getcol("ANTENNA1")), np.unique(t.getcol("ANTENNA2")))
    tmp = tempfile.mkdtemp(prefix="selfcal.", dir=workdir)
    try:
        table = os.path.join(tmp, "phase.G")
        refant = best_refant(ms_path)
        solve_table(ms_path, gaintype="G", caltable=table, refant=names[refant], calmode="p", solint="inf",
                    combine="scan", minsnr=minsnr, minblperant=4)
        if not os.path.isdir(table):
            raise SelfCalFailed(f"{ms_path}: gaincal wrote no phase self-calibration table (no good solution; "
                                "its solver may not have converged); see the CASA log")
        with tables.table(table, ack=False) as t:
            ant, g, gf = t.getcol("ANTENNA1"), t.getcol("CPARAM")[:, 0, :], t.getcol("FLAG")[:, 0, :]  # (Nsol, Nfeed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gains = np.ones((len(names), g.shape[1]), np.complex128)
    have = np.zeros((len(names), g.shape[1]), bool)
    ok = ~gf & (np.abs(g) > 0)
    rows, feeds = np.nonzero(ok)
    gains[ant[rows], feeds] = g[ok] / np.abs(g[ok])
    have[ant[rows], feeds] = True
    solved = np.isin(ant, present)
    ph = np.degrees(np.angle(g[ok & solved[:, None]]))
    summary = {"refant": names[refant], "n_solutions": int(solved.sum() * g.shape[1]),
               "n_flagged": int((~ok & solved[:, None]).sum()),
               "phase_rms_deg": float(np.sqrt(np.mean(ph**2))) if ph.size else 0.0}
    log.info("phase self-calibration of %s: %d solutions, %d flagged, rms %.2f deg (refant %s)",
             os.path.basename(ms_path.rstrip("/")), summary["n_solutions"], summary["n_flagged"], summary["phase_rms_deg"], names[refant])
    return gains, have, summary


def apply_phases(d: np.ndarray, flag: np.ndarray, a1: np.ndarray, a2: np.ndarray, gains: np.ndarray,
                 have: np.ndarray) -> int:
    """Divide ``d`` (Nrow, Nchan, Npol: XX, YY) by g_i g_j^* in place; flag (in place) the
    cross-correlations of antennas without a solution.  Returns how many samples were newly flagged."""
    npol = d.shape[-1]
    if npol not in (1, 2):
        raise ValueError(f"self-calibration handles XX/YY (or one) polarisations, not {npol}")
    n_new = 0
    for p in range(npol):
        f = min(p, gains.shape[1] - 1)  # XX -> feed X, YY -> feed Y
        d[:, :, p] /= (gains[a1, f] * np.conj(gains[a2, f]))[:, None]
        lost = ~(have[a1, f] & have[a2, f]) & (a1 != a2)
        n_new += int((lost[:, None] & ~flag[:, :, p]).sum())
        flag[lost, :, p] = True
    return n_new


def selfcal_static_beam(*, ms_orig: str, ms_work: str, column: str, workdir: str, rows_per_chunk: int = 20000) -> dict:
    """Phase self-calibration of static-beam data; returns the QA record.

    On entry ``ms_work`` (a lean copy of ``ms_orig``, :func:`.beam_equalize.lean_copy`, or
    ``ms_orig`` itself when it holds the original data in ``column``: the channel-averaged copy)
    holds in DATA the equalized data (``column`` of ``ms_orig`` minus the beam difference
    delta) and in MODEL_DATA the static catalog model.  The gains apply to the sky as observed while delta was predicted
    without them, so the product is original / (g_i g_j^*) - delta.  Solving on
    original - delta leaves (g_i g_j^* - 1) delta unmodelled, so a second solve on the
    corrected data refines the phases when the first pass's rms phase exceeds
    :data:`SECOND_PASS_MIN_DEG` (large phases only).  delta is not predicted
    again: DATA holds (original / previous gains) - delta.  The product goes to DATA; the
    flags of antennas without a solution to FLAG.

    When gaincal finds no solution (:class:`SelfCalFailed`) the previous pass is kept
    (after a failed first pass, the equalized data without self-calibration): an image
    without self-cal is better than no image.  The record says which (``failed``,
    ``failed_pass``), how many passes ran (``iteration``), the rms phase
    (``phase_rms_deg``) and ``n_samples_flagged``.
    """
    gains = have = None
    sc = None
    n_new = 0
    same = os.path.realpath(ms_orig) == os.path.realpath(ms_work)
    for it in range(2):
        if it == 1 and sc.get("phase_rms_deg", 0.0) < SECOND_PASS_MIN_DEG:
            break  # the first pass's (g g* - 1) delta error is second order in small phases
        try:
            g, h, sc_it = solve_phases(ms_work, workdir)
        except SelfCalFailed as err:
            log.warning("%s; self-calibration pass %d dropped, keeping %s", err, it + 1,
                        f"pass {it}" if it else "the data without self-calibration")
            if sc is None:
                sc = {"failed": str(err)}  # DATA holds the equalized data
            else:
                sc["failed_pass"] = it + 1
            break
        sc = sc_it
        prev, prev_have = (np.ones_like(g), np.ones_like(h)) if have is None else (gains, have)
        gains, have = g * prev, h & prev_have
        n_new = n_new if same else 0  # one table: the earlier passes' flags are in FLAG already
        with tables.table(ms_work, readonly=False, ack=False) as t, \
                (contextlib.nullcontext(t) if same else tables.table(ms_orig, ack=False)) as src:
            for r0 in range(0, t.nrows(), rows_per_chunk):
                nr = min(rows_per_chunk, t.nrows() - r0)
                orig, flag = src.getcol(column, r0, nr), src.getcol("FLAG", r0, nr)
                a1, a2 = t.getcol("ANTENNA1", r0, nr), t.getcol("ANTENNA2", r0, nr)
                delta = orig.copy()
                apply_phases(delta, flag.copy(), a1, a2, prev, prev_have)
                delta -= t.getcol("DATA", r0, nr)
                out = orig.copy()
                n_new += apply_phases(out, flag, a1, a2, gains, have)
                out -= delta
                t.putcol("DATA", out, r0, nr)  # the next solve's input, and the product
                t.putcol("FLAG", flag, r0, nr)
        sc["iteration"] = it + 1
    if gains is not None:
        sc["phase_rms_deg"] = float(np.sqrt(np.mean(np.degrees(np.angle(gains[have])) ** 2))) if have.any() else 0.0
        sc["n_samples_flagged"] = n_new
    return sc
