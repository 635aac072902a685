"""Channel averaging of the imager's scratch MS.

A full-size group has 768 channels of 244 kHz; every pass of the imager (each major
cycle of CLEAN, each self-calibration solve) reads all of them.  Continuum imaging needs
far fewer: averaging F adjacent channels smears a source at distance r from the phase
centre radially by r * F * dnu / nu, which for F dnu = 1 MHz at 1.4 GHz and r = 1.3 deg
(the primary beam's half-power radius) is 3.3 arcsec against a ~50 arcsec synthesized beam:
a peak loss below 0.3%.  The averaging here is the flag- and weight-aware mean CASA's
``mstransform`` makes (the sum of WEIGHT_SPECTRUM x unflagged samples becomes the new
WEIGHT_SPECTRUM; a box with no unflagged sample is flagged), done while the scratch copy
is written so that the static-beam model (:mod:`.static_beam`) is still subtracted at the
full resolution.

Conventions: visibility arrays are (Nrow, Nchan, Npol) as casacore returns them; the
factor F divides Nchan; channel frequencies (Hz) are box means, widths box sums.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from casacore import tables

log = logging.getLogger(__name__)

DROPPED = ("DATA", "MODEL_DATA", "CORRECTED_DATA", "FLAG", "WEIGHT_SPECTRUM", "SIGMA_SPECTRUM")
"""Main-table columns an averaged copy writes anew (or leaves out); FLAG_CATEGORY (empty, but
CASA requires it) is copied."""


def average_factor(chan_freqs_hz: np.ndarray, *, target_width_mhz: float) -> int:
    """The number F of adjacent channels to average so that F x the channel width is at
    most ``target_width_mhz`` (MHz), F dividing the channel count; 1 (no averaging) when
    the target is 0, narrower than one channel, or the channels are not evenly spaced."""
    f = np.asarray(chan_freqs_hz, float).ravel()
    if target_width_mhz <= 0 or f.size < 2:
        return 1
    step = np.diff(f)
    if not np.allclose(step, step[0], rtol=1e-6, atol=0):
        log.warning("channels are not evenly spaced: no channel averaging")
        return 1
    best = max(1, int(math.floor(target_width_mhz * 1e6 / abs(step[0]) + 1e-9)))
    while f.size % best:
        best -= 1
    return best


def average_channels(data: np.ndarray, flag: np.ndarray, weight: np.ndarray, factor: int, *, threads: int = 1):
    """Flag- and weight-aware mean of ``factor`` adjacent channels.

    ``data`` (Nrow, Nchan, Npol) complex, ``flag`` the same shape bool, ``weight`` the
    same shape (WEIGHT_SPECTRUM) or broadcastable to it (WEIGHT[:, None, :]).  Returns
    (data, flag, weight) of shape (Nrow, Nchan / factor, Npol): the weighted mean of the
    unflagged samples, flagged where a box has none, weights summed over the unflagged.
    Rows are split over ``threads`` threads (numpy releases the GIL)."""
    nrow, nchan, npol = data.shape
    out = np.empty((nrow, nchan // factor, npol), data.dtype)
    out_flag = np.empty(out.shape, bool)
    wsum = np.empty(out.shape, np.float32)
    weight = np.broadcast_to(weight, data.shape)

    def block(r0: int, r1: int) -> None:
        ws = np.zeros((r1 - r0, nchan // factor, npol), np.float32)
        ds = np.zeros(ws.shape, data.dtype)
        for j in range(factor):  # strided slices: the j-th channel of every box
            w = np.where(flag[r0:r1, j::factor], np.float32(0), weight[r0:r1, j::factor])
            ws += w
            ds += data[r0:r1, j::factor] * w
        bad = ws <= 0
        out[r0:r1] = np.where(bad, 0, ds / np.where(bad, np.float32(1), ws))
        out_flag[r0:r1], wsum[r0:r1] = bad, ws

    edges = np.linspace(0, nrow, max(1, threads) + 1).astype(int)
    if threads <= 1:
        block(0, nrow)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(block, edges[:-1], edges[1:]))
    return out, out_flag, wsum


def create_averaged_ms(ms_in: str, ms_out: str, *, factor: int, columns: tuple[str, ...]) -> int:
    """Write ``ms_out``: ``ms_in`` with every subtable and the main table's scalar columns,
    ``columns`` (e.g. DATA, MODEL_DATA) plus FLAG and WEIGHT_SPECTRUM empty, shaped for
    Nchan / ``factor`` channels, and its SPECTRAL_WINDOW averaged.  Returns the new
    channel count; the caller fills the arrays (:func:`average_channels`)."""
    with tables.table(ms_in, ack=False) as t:
        keep = [c for c in t.colnames() if c not in DROPPED]
        nchan, npol = t.getcell("FLAG", 0).shape
        tables.taql(f"SELECT {', '.join(keep)} FROM $t GIVING '{ms_out}' AS PLAIN").close()
    with tables.table(f"{ms_out}::SPECTRAL_WINDOW", readonly=False, ack=False) as spw:
        if spw.nrows() != 1:
            raise ValueError(f"{ms_in}: channel averaging handles one spectral window, not {spw.nrows()}")
        f = spw.getcell("CHAN_FREQ", 0)
        if f.size % factor:
            raise ValueError(f"{ms_in}: {f.size} channels do not divide into boxes of {factor}")
        spw.putcell("CHAN_FREQ", 0, f.reshape(-1, factor).mean(axis=1))
        for c in ("CHAN_WIDTH", "EFFECTIVE_BW", "RESOLUTION"):
            spw.putcell(c, 0, spw.getcell(c, 0).reshape(-1, factor).sum(axis=1))
        spw.putcell("NUM_CHAN", 0, f.size // factor)
    nout, npol = int(nchan) // factor, int(npol)
    types = {"FLAG": "boolean", "WEIGHT_SPECTRUM": "float"}
    with tables.table(ms_out, readonly=False, ack=False) as t:
        for name in (*columns, "FLAG", "WEIGHT_SPECTRUM"):
            vt = types.get(name, "complex")
            desc = tables.makearrcoldesc(name, {"boolean": False, "float": 0.0, "complex": 0j}[vt], shape=[nout, npol],
                                         options=4, valuetype=vt)
            rows = max(1, (1 << 20) // (8 * nout * npol))  # ~1 MB tiles
            t.addcols(tables.maketabdesc([desc]), {"TYPE": "TiledColumnStMan", "NAME": f"Tiled{name}",
                                                    "SPEC": {"DEFAULTTILESHAPE": np.array([npol, nout, rows], np.int32)}})
    return nout
