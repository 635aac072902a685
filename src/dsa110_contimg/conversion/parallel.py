"""The ``parallel`` writer: row blocks read and re-phased in worker processes, one MS assembled.

The group's baseline-time rows are cut into blocks of about ``BLOCK_BYTES``.  For
its block, a worker reads the rows from every subband file (h5py partial reads),
places each subband's channels at their place in the ascending-frequency band,
applies the phase factor of :mod:`.phasing` and conjugates to CASA's convention,
writing the *part* (data, flags, nsamples, row weights) straight into one of
``workers + 1`` reusable shared-memory slots of the parent.  The
parent writes each part into its rows of DATA, CORRECTED_DATA (= DATA), MODEL_DATA
(= 1+0j), FLAG and WEIGHT_SPECTRUM, in row order: the tiled columns grow
sequentially on disk (no initialisation pass), and at most ``workers + 1`` parts
are in memory at once.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory

import h5py
import numpy as np

from ..uvh5_io import UVH5Error, read_visdata_into
from .phasing import phase_factor, phase_factor_uniform

log = logging.getLogger(__name__)

BLOCK_BYTES = 96 << 20

_SHARED: dict = {}


def _init_worker(layout: dict) -> None:
    _SHARED["layout"] = layout


def band_layout(*, paths: list[str], freqs_file: list[np.ndarray], dw_m: np.ndarray, swap: np.ndarray, npol: int) -> dict:
    """Everything a worker needs: per file its channel order and first output channel.

    ``freqs_file`` are each file's channel frequencies in file order (Hz); files are
    placed in ascending frequency.  ``dw_m`` (Nblts,) is ``w_new - w_raw`` (m);
    ``swap`` marks rows stored with antennas swapped (ant1 > ant2 in the file).
    """
    order = sorted(range(len(paths)), key=lambda k: freqs_file[k].min())
    files, c0, freqs = [], 0, []
    for k in order:
        o = np.argsort(freqs_file[k])
        files.append((paths[k], o, c0))
        c0 += o.size
        freqs.append(freqs_file[k][o])
    return {"files": files, "freqs": np.concatenate(freqs), "dw": dw_m, "swap": swap, "npol": npol}


def process_rows(r0: int, r1: int, *, layout: dict | None = None, out=None):
    """(data, flags, nsamples, weight) of rows r0..r1-1, all channels ascending, MS convention.

    ``out`` may supply the (data, nsamples, flags, weight) arrays to fill (shared memory).
    ``weight`` (Nrows, Npol) is the channel-mean nsamples.
    """
    lay = _SHARED["layout"] if layout is None else layout
    n, nchan, npol = r1 - r0, lay["freqs"].size, lay["npol"]
    if out is None:
        out = (np.empty((n, nchan, npol), np.complex64), np.empty((n, nchan, npol), np.float32), np.empty((n, nchan, npol), bool), np.empty((n, npol), np.float32))
    data, nsamp, flags, weight = out
    phasor = _phasor(lay, r0, r1)
    for path, order, c0 in lay["files"]:
        sl = slice(c0, c0 + order.size)
        src = _channel_selector(order)
        try:
            with h5py.File(path, "r") as f:
                buf = np.empty((n, order.size, npol), np.complex64)
                read_visdata_into(f, slice(r0, r1), buf)
                flags[:, sl] = f["Data/flags"][r0:r1][:, src]
                nsamp[:, sl] = f["Data/nsamples"][r0:r1][:, src]
        except OSError as err:
            raise UVH5Error(f"{path}: reading the visibilities failed ({err}); the file is truncated or corrupt") from None
        np.multiply(buf[:, src], phasor[:, sl, None], out=data[:, sl])
    # MS convention: conjugate, except rows stored swapped (conj of the swapped baseline = itself)
    np.conjugate(data, out=data, where=~lay["swap"][r0:r1, None, None])
    weight[...] = nsamp.mean(axis=1)
    return data, flags, nsamp, weight


def _channel_selector(order: np.ndarray):
    """A slice (view) when the file's channels are simply reversed or in order, else the index array."""
    k = order.size
    if np.array_equal(order, np.arange(k)):
        return slice(None)
    if np.array_equal(order, np.arange(k)[::-1]):
        return slice(None, None, -1)
    return order


def _phasor(lay: dict, r0: int, r1: int) -> np.ndarray:
    f = lay["freqs"]
    dw = lay["dw"][r0:r1]
    if f.size > 1:
        df = (f[-1] - f[0]) / (f.size - 1)
        if np.max(np.abs(f - (f[0] + df * np.arange(f.size)))) < 1.0:  # uniform grid (< 1 Hz)
            return phase_factor_uniform(dw, f[0], df, f.size)
    return phase_factor(dw, f)


def _process_to_shm(r0: int, r1: int, slot: str, slot_rows: int) -> tuple[int, int]:
    """Worker: :func:`process_rows` straight into the parent's shared-memory ``slot``."""
    shm = shared_memory.SharedMemory(name=slot)
    try:
        lay = _SHARED["layout"]
        views = _views(shm, slot_rows, lay["freqs"].size, lay["npol"], r1 - r0)
        process_rows(r0, r1, out=views)
        del views
    finally:
        shm.close()
    return r0, r1


def _views(shm, slot_rows: int, nchan: int, npol: int, n: int):
    """(data, nsamples, flags, weight) views of the first ``n`` rows of a slot."""
    cells = slot_rows * nchan * npol
    shape = (n, nchan, npol)
    return (
        np.ndarray(shape, np.complex64, shm.buf, 0),
        np.ndarray(shape, np.float32, shm.buf, 8 * cells),
        np.ndarray(shape, np.bool_, shm.buf, 12 * cells),
        np.ndarray((n, npol), np.float32, shm.buf, 13 * cells),
    )


def _slot_bytes(slot_rows: int, nchan: int, npol: int) -> int:
    return slot_rows * nchan * npol * 13 + slot_rows * npol * 4


def row_blocks(nrows: int, nchan: int, npol: int, *, block_bytes: int | None = None) -> list[tuple[int, int]]:
    """Row ranges of about ``block_bytes`` (default ``BLOCK_BYTES``) of output (13 bytes per cell)."""
    block_bytes = block_bytes or BLOCK_BYTES
    step = max(1, block_bytes // (nchan * npol * 13))
    return [(r, min(r + step, nrows)) for r in range(0, nrows, step)]


def write_main_data(ms, layout: dict, *, workers: int, side=None):
    """Fill DATA, CORRECTED_DATA, MODEL_DATA, FLAG, WEIGHT_SPECTRUM of open MS ``ms``.

    ``side`` (a picklable callable without arguments, e.g. a ``functools.partial`` of a
    module-level function) is run in the worker pool alongside the parts.
    Returns (per-row mean nsamples per polarization (for WEIGHT), side's result).
    """
    nrows = ms.nrows()
    nchan, npol = layout["freqs"].size, layout["npol"]
    blocks = row_blocks(nrows, nchan, npol)
    slot_rows = max(r1 - r0 for r0, r1 in blocks)
    weight = np.zeros((nrows, npol))
    t0 = time.perf_counter()
    ones = np.ones((slot_rows, nchan, npol), np.complex64)

    def put(data, flags, nsamp, w, r0):
        n = data.shape[0]
        ms.putcol("DATA", data, r0, n)
        ms.putcol("CORRECTED_DATA", data, r0, n)
        ms.putcol("MODEL_DATA", ones[:n], r0, n)
        ms.putcol("FLAG", flags, r0, n)
        ms.putcol("WEIGHT_SPECTRUM", nsamp, r0, n)
        weight[r0 : r0 + n] = w

    def progress(k):
        if k + 1 == len(blocks) or (k + 1) % max(1, len(blocks) // 4) == 0:
            log.info("rows block %d/%d written (%.1f s)", k + 1, len(blocks), time.perf_counter() - t0)

    if workers <= 1:
        side_result = side() if side else None
        for k, (r0, r1) in enumerate(blocks):
            put(*process_rows(r0, r1, layout=layout), r0)
            progress(k)
        return weight, side_result
    # workers + 1 reusable shared-memory slots: parts are produced straight into them
    slots = [shared_memory.SharedMemory(create=True, size=_slot_bytes(slot_rows, nchan, npol)) for _ in range(workers + 1)]
    try:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(layout,)) as pool:
            side_fut = pool.submit(side) if side else None
            pending, futs, free = list(blocks), [], list(slots)
            for k in range(len(blocks)):
                while pending and free:
                    r0, r1 = pending.pop(0)
                    slot = free.pop(0)
                    futs.append((pool.submit(_process_to_shm, r0, r1, slot.name, slot_rows), slot))
                fut, slot = futs.pop(0)
                r0, r1 = fut.result()
                data, nsamp, flags, w = _views(slot, slot_rows, nchan, npol, r1 - r0)
                put(data, flags, nsamp, w, r0)
                del data, nsamp, flags, w
                free.append(slot)
                progress(k)
            side_result = side_fut.result() if side_fut else None
    finally:
        for slot in slots:
            slot.close()
            slot.unlink()
    return weight, side_result
