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


def best_refant(ms_path: str) -> int:
    """The antenna with the most unflagged cross-correlation samples."""
    with tables.table(ms_path, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    good = (~f).sum(axis=(1, 2))
    cross = a1 != a2
    n = np.bincount(a1[cross], good[cross], minlength=max(a1.max(), a2.max()) + 1)
    n += np.bincount(a2[cross], good[cross], minlength=n.size)
    return int(np.argmax(n))


def phase_selfcal(ms_path: str, column: str, workdir: str, minsnr: float = 3.0) -> dict:
    """Solve one phase per antenna and feed on DATA vs MODEL_DATA; divide ``column`` by it.

    Returns the number of solutions, how many were flagged, and the rms of the applied
    phases (degrees) for the QA record.
    """
    configure_casa()
    from casatasks import gaincal  # noqa: PLC0415

    tmp = tempfile.mkdtemp(prefix="selfcal.", dir=workdir)
    try:
        table = os.path.join(tmp, "phase.G")
        refant = best_refant(ms_path)
        gaincal(vis=ms_path, caltable=table, gaintype="G", calmode="p", solint="inf", combine="scan",
                refant=str(refant), minsnr=minsnr, minblperant=4)
        if not os.path.isdir(table):
            raise RuntimeError(f"{ms_path}: gaincal wrote no phase self-calibration table; see the CASA log")
        with tables.table(table, ack=False) as t:
            ant, g, gf = t.getcol("ANTENNA1"), t.getcol("CPARAM")[:, 0, :], t.getcol("FLAG")[:, 0, :]  # (Nsol, Nfeed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    nant = int(max(ant.max(), 0)) + 1
    gains = np.ones((nant, g.shape[1]), np.complex128)
    have = np.zeros((nant, g.shape[1]), bool)
    ok = ~gf & (np.abs(g) > 0)
    rows, feeds = np.nonzero(ok)
    gains[ant[rows], feeds] = g[ok] / np.abs(g[ok])
    have[ant[rows], feeds] = True
    with tables.table(ms_path, readonly=False, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        d, flag = t.getcol(column), t.getcol("FLAG")
        npol = d.shape[-1]
        feed = [0, g.shape[1] - 1] if npol == 2 else list(range(npol))  # XX -> X, YY -> Y
        n_newly_flagged = 0
        for p in range(npol):
            f = feed[min(p, len(feed) - 1)]
            d[:, :, p] /= (gains[a1, f] * np.conj(gains[a2, f]))[:, None]
            # no solution for either antenna: flag, as applycal's calflag would (auto-correlations kept)
            lost = ~(have[a1, f] & have[a2, f]) & (a1 != a2)
            n_newly_flagged += int((lost[:, None] & ~flag[:, :, p]).sum())
            flag[lost, :, p] = True
        t.putcol(column, d)
        t.putcol("FLAG", flag)
    with tables.table(ms_path, ack=False) as t:
        present = np.union1d(np.unique(t.getcol("ANTENNA1")), np.unique(t.getcol("ANTENNA2")))
    solved = np.isin(ant, present)
    ph = np.degrees(np.angle(g[ok & solved[:, None]]))
    summary = {"refant": refant, "n_solutions": int(solved.sum() * g.shape[1]), "n_flagged": int((~ok & solved[:, None]).sum()),
               "n_samples_flagged": n_newly_flagged,
               "phase_rms_deg": float(np.sqrt(np.mean(ph**2))) if ph.size else 0.0}
    log.info("phase self-calibration of %s: %d solutions, %d flagged, rms %.2f deg (refant %d)",
             os.path.basename(ms_path.rstrip("/")), summary["n_solutions"], summary["n_flagged"], summary["phase_rms_deg"], refant)
    return summary
