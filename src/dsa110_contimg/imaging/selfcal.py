"""Phase self-calibration of a science group against a sky model in MODEL_DATA.

Gains solved at the calibrator transit drift in phase before a science group is
observed (tens of minutes later).  The residual antenna phases scatter flux of every
bright source into the image as sidelobe-like errors, which raise the image rms above
the thermal noise.  One phase per antenna and polarization over the whole group
(``solint='inf'``), solved by CASA ``gaincal`` against MODEL_DATA, removes them.
Phase-only: amplitudes (and with them the flux scale, and any drift the normalisation
is meant to see) are not touched.

Convention (CASA): V_ij(observed) = g_i g_j^* V_ij(true), so the correction divides by
g_i g_j^*; polarization p of the data (XX, YY) uses the solutions of feed p on both
antennas.  Data of an antenna without a solution (flagged by ``minsnr``, or no data) are flagged,
as CASA ``applycal`` would.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import numpy as np
from casacore import tables

from ..casa_env import configure_casa

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


def solve_phases(ms_path: str, workdir: str, minsnr: float = 3.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Solve one phase per antenna and feed on DATA vs MODEL_DATA (CASA gaincal).

    Returns (unit-modulus gains (Nant, Nfeed), which have a solution (Nant, Nfeed), a
    summary for the QA record: reference antenna, solutions, how many failed, rms phase).
    Raises :class:`SelfCalFailed` when gaincal writes no table (no good solution at all).
    """
    configure_casa()
    from casatasks import gaincal  # noqa: PLC0415

    with tables.table(f"{ms_path}::ANTENNA", ack=False) as t:
        names = t.getcol("NAME")
    with tables.table(ms_path, ack=False) as t:
        present = np.union1d(np.unique(t.getcol("ANTENNA1")), np.unique(t.getcol("ANTENNA2")))
    tmp = tempfile.mkdtemp(prefix="selfcal.", dir=workdir)
    try:
        table = os.path.join(tmp, "phase.G")
        refant = best_refant(ms_path)
        gaincal(vis=ms_path, caltable=table, gaintype="G", calmode="p", solint="inf", combine="scan",
                refant=names[refant], minsnr=minsnr, minblperant=4)
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
