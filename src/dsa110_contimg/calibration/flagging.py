"""Flagging a Measurement Set: reset, exact zeros, autocorrelations, then RFI.

RFI detection runs AOFlagger (the ``aoflagger`` package) with the strategy file
``config/aoflagger/dsa110.lua`` on every cross-correlation baseline's
time x frequency image of DATA (XX and YY, complex), or CASA's ``flagdata``
(tfcrop then rflag) as the configured alternative.  Flag fractions before and after,
per antenna and per channel, are returned for the JSON sidecar.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from casacore import tables

from .. import msmeta
from ..casa_env import configure_casa
from ..config import REPO_ROOT
from ..settings import Calibration

log = logging.getLogger(__name__)

DEFAULT_STRATEGY = os.path.join(REPO_ROOT, "config", "aoflagger", "dsa110.lua")


class FlaggingError(RuntimeError):
    """Flagging cannot run (unknown method, missing strategy file, ...)."""


def flag_fractions(flags: np.ndarray, ant1: np.ndarray, ant2: np.ndarray, nant: int) -> dict:
    """Flagged fractions of cross-correlations: total, per antenna (list, by antenna index), per channel.

    ``flags`` (Nrows, Nchan, Npol) bool.  Antennas without data get ``None``.
    """
    cross = ant1 != ant2
    f = flags[cross]
    per_row = f.mean(axis=(1, 2))
    per_ant = []
    for a in range(nant):
        m = (ant1[cross] == a) | (ant2[cross] == a)
        per_ant.append(float(per_row[m].mean()) if m.any() else None)
    return {
        "total": float(f.mean()) if f.size else 0.0,
        "per_antenna": per_ant,
        "per_channel": f.mean(axis=(0, 2)).round(5).tolist() if f.size else [],
    }


def aoflagger_flags(data: np.ndarray, flags: np.ndarray, ant1: np.ndarray, ant2: np.ndarray, strategy_path: str) -> np.ndarray:
    """RFI flags from AOFlagger for every cross-correlation baseline; returns new flags (OR-ed).

    ``data`` (Nrows, Nchan, Npol) complex; rows of one baseline must be in time order.
    Existing flags are given to the strategy as the input mask.
    """
    import aoflagger  # noqa: PLC0415

    if not os.path.isfile(strategy_path):
        raise FlaggingError(f"AOFlagger strategy file {strategy_path} not found")
    af = aoflagger.AOFlagger()
    strategy = af.load_strategy_file(strategy_path)
    out = flags.copy()
    npol = data.shape[2]
    bl = ant1.astype(np.int64) * 100000 + ant2
    cross = ant1 != ant2
    for key in np.unique(bl[cross]):
        rows = np.nonzero(bl == key)[0]
        d = data[rows]  # (Nt, Nchan, Npol)
        nt, nch = d.shape[0], d.shape[1]
        imgs = af.make_image_set(nt, nch, 2 * npol)
        for p in range(npol):
            imgs.set_image_buffer(2 * p, np.ascontiguousarray(d[:, :, p].real.T, dtype=np.float32))
            imgs.set_image_buffer(2 * p + 1, np.ascontiguousarray(d[:, :, p].imag.T, dtype=np.float32))
        mask = af.make_flag_mask(nt, nch, False)
        # get_buffer() returns a copy: the input mask must go in through set_buffer
        mask.set_buffer(np.ascontiguousarray(flags[rows].any(axis=2).T))
        result = strategy.run(imgs, mask).get_buffer()  # (Nchan, Nt)
        out[rows] |= result.T[:, :, None]
    return out


def flag_ms(ms_path: str, *, calibration: Calibration) -> dict:
    """Reset flags, flag exact zeros and autocorrelations, then RFI; return the statistics.

    ``calibration.flagging``: ``aoflagger`` (strategy ``calibration.aoflagger_strategy``,
    empty = :data:`DEFAULT_STRATEGY`) | ``casa`` (tfcrop + rflag) | ``none``.
    """
    method = calibration.flagging
    strategy_path = calibration.aoflagger_strategy or DEFAULT_STRATEGY
    if method not in ("aoflagger", "casa", "none"):
        raise FlaggingError(f"unknown flagging method {method!r}; use aoflagger, casa or none")
    nant = len(msmeta.antenna_names(ms_path))
    with tables.table(ms_path, readonly=False, ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        found = t.getcol("FLAG")
        data = t.getcol("DATA")
        stats = {"method": method, "as_found": flag_fractions(found, a1, a2, nant)}
        flags = np.zeros_like(found)
        flags |= (data.real == 0) & (data.imag == 0)
        flags[a1 == a2] = True  # autocorrelations are not used for imaging or calibration
        stats["zeros_and_autos"] = flag_fractions(flags, a1, a2, nant)
        stats["autocorrelation_rows"] = int((a1 == a2).sum())
        if method == "aoflagger":
            flags = aoflagger_flags(data, flags, a1, a2, strategy_path)
        t.putcol("FLAG", flags)
        t.putcol("FLAG_ROW", flags.all(axis=(1, 2)))
    if method == "casa":
        _casa_rfi(ms_path)
        with tables.table(ms_path, ack=False) as t:
            flags = t.getcol("FLAG")
    stats["after_rfi"] = flag_fractions(flags, a1, a2, nant)
    log.info("%s: flagged %.1f%% of cross-correlations (%s)", ms_path, 100 * stats["after_rfi"]["total"], method)
    return stats


def _casa_rfi(ms_path: str) -> None:
    configure_casa()
    from casatasks import flagdata  # noqa: PLC0415

    flagdata(vis=ms_path, mode="tfcrop", datacolumn="data", action="apply", flagbackup=False)
    flagdata(vis=ms_path, mode="rflag", datacolumn="data", action="apply", flagbackup=False)
