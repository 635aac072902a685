"""The ``parallel`` writer: subbands read and re-phased in worker processes, one MS assembled.

Each worker reads one subband with h5py, reverses its channels to ascending order,
applies the phase factor of :mod:`.phasing`, conjugates to CASA's convention and
hands back (data, flags, nsamples) -- the per-subband *part*.  The parent writes
each part into its channel slice of DATA, CORRECTED_DATA (= DATA), MODEL_DATA
(= 1+0j), FLAG and WEIGHT_SPECTRUM as parts arrive, so at most ``workers + 1``
subbands are in memory at once.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..uvh5_io import read_visibilities
from .phasing import phase_factor

log = logging.getLogger(__name__)

_SHARED: dict = {}


def _init_worker(dw: np.ndarray, swap: np.ndarray) -> None:
    _SHARED["dw"] = dw
    _SHARED["swap"] = swap


def process_subband(path: str, freqs_hz_file: np.ndarray, dw: np.ndarray | None = None, swap: np.ndarray | None = None):
    """Read one subband and return (data, flags, nsamples) ascending in frequency, MS convention.

    ``freqs_hz_file`` are the file's channel frequencies (file order); ``dw`` (Nblts,)
    is ``w_new - w_raw`` in metres; ``swap`` marks rows whose antennas the MS stores
    swapped (ant1 > ant2 in the file).
    """
    dw = _SHARED["dw"] if dw is None else dw
    swap = _SHARED["swap"] if swap is None else swap
    data, flags, nsamp = read_visibilities(path)
    order = np.argsort(freqs_hz_file)
    if not np.array_equal(order, np.arange(order.size)):
        data, flags, nsamp = data[:, order], flags[:, order], nsamp[:, order]
    data *= phase_factor(dw, freqs_hz_file[order])[:, :, None]
    # MS convention: conjugate, except rows stored swapped (conj of the swapped baseline = itself)
    np.conjugate(data, out=data, where=~swap[:, None, None])
    return data, flags, nsamp


def write_main_data(ms, parts: list[tuple[str, np.ndarray, int]], dw: np.ndarray, swap: np.ndarray, workers: int, npol: int) -> np.ndarray:
    """Fill the data columns of open MS ``ms``; ``parts`` = [(path, file freqs, first MS channel)].

    Returns the per-row mean nsamples per polarization (for WEIGHT).
    """
    nrows = ms.nrows()
    wsum = np.zeros((nrows, npol))
    nch = 0
    t0 = time.perf_counter()

    def put(res, c0):
        nonlocal nch
        data, flags, nsamp = res
        c1 = c0 + data.shape[1] - 1
        blc, trc = [c0, 0], [c1, npol - 1]
        ms.putcolslice("DATA", data, blc, trc)
        ms.putcolslice("CORRECTED_DATA", data, blc, trc)
        ms.putcolslice("MODEL_DATA", np.ones(data.shape, np.complex64), blc, trc)
        ms.putcolslice("FLAG", flags, blc, trc)
        ms.putcolslice("WEIGHT_SPECTRUM", nsamp, blc, trc)
        wsum[:] += nsamp.sum(axis=1)
        nch += data.shape[1]

    if workers <= 1:
        for k, (path, freqs, c0) in enumerate(parts):
            put(process_subband(path, freqs, dw, swap), c0)
            log.info("subband %d/%d written (%.1f s)", k + 1, len(parts), time.perf_counter() - t0)
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(dw, swap)) as pool:
            # keep at most `workers + 1` parts in flight; a finished future holds its
            # (large) result, so drop each one once written
            pending = list(parts)
            futs = []
            for k in range(len(parts)):
                while pending and len(futs) < workers + 1:
                    path, freqs, c0 = pending.pop(0)
                    futs.append((pool.submit(process_subband, path, freqs), c0))
                fut, c0 = futs.pop(0)
                put(fut.result(), c0)
                del fut
                log.info("subband %d/%d written (%.1f s)", k + 1, len(parts), time.perf_counter() - t0)
    return wsum / max(nch, 1)
