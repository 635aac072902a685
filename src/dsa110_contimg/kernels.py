"""Pure numerical kernels of the interferometer measurement equation (no CASA, no I/O).

Sign convention (the one CASA ``ft`` and the Measurement Set use): a point source of
flux S at direction cosines (l, m, n) relative to the phase centre gives

    V(u, v, w, nu) = S(nu) exp(+2 pi i nu/c (u l + v m + w (n - 1)))

with (u, v, w) the MS ``UVW`` column in metres in the frame of the phase centre (as the
converter writes it: position of ANTENNA1 minus ANTENNA2, pyuvdata's ant2 - ant1 negated;
see docs/conventions.md), l towards east (increasing RA), m towards north.  ``tests/test_kernels.py``
checks this against CASA ``ft``.
"""

from __future__ import annotations

import numpy as np

from .geometry import C_M_S

CHANNEL_BLOCK = 48  # channels per exponential evaluation (bounds the temporary array)


def direction_cosines(ra_rad, dec_rad, ra0_rad, dec0_rad):
    """(l, m, n) of (ra, dec) relative to (ra0, dec0), all radians: l east, m north, n towards (ra0, dec0)."""
    dra = np.asarray(ra_rad) - ra0_rad
    cd = np.cos(dec_rad)
    l = cd * np.sin(dra)  # noqa: E741 (standard radio-astronomy symbol)
    m = np.sin(dec_rad) * np.cos(dec0_rad) - cd * np.sin(dec0_rad) * np.cos(dra)
    n = np.sin(dec_rad) * np.sin(dec0_rad) + cd * np.cos(dec0_rad) * np.cos(dra)
    return l, m, n


def fringe_sum(*, uvw_m: np.ndarray, freqs_hz: np.ndarray, phase_centre_rad: tuple[float, float], terms,
               time_index: np.ndarray, n_times: int, dtype=np.complex128, threads: int = 1) -> np.ndarray:
    """sum over (source, W[t, chan]) of W[time_index, chan] K_s: ``dtype`` (Nrow, Nchan), a
    transposed view of a channel-major array.  ``np.complex64`` (the MS's precision, ~3e-6
    relative after a block's recurrence) halves the memory traffic.

    ``terms``: pairs of (anything with ``ra_deg``/``dec_deg``, weight array broadcastable
    to (``n_times``, Nchan)); ``time_index`` (Nrow,) picks each row's row of W.
    K_s = exp(+2 pi i nu/c (u l + v m + w (n - 1))) (module convention).

    Cost: channels are taken in blocks of :data:`CHANNEL_BLOCK`; within a block of evenly
    spaced channels the fringe is one exponential per row and a recurrence (a complex
    multiply per sample), exact to rounding (~1e-14 after 48 steps), instead of one
    exponential per sample (~10x faster on a full-size group).  ``threads`` > 1 shares the
    sources among that many threads (numpy releases the GIL in its array loops), each
    with its own sum.
    """
    terms = list(terms)
    if threads > 1 and len(terms) > 1:
        from concurrent.futures import ThreadPoolExecutor

        kw = dict(uvw_m=uvw_m, freqs_hz=freqs_hz, phase_centre_rad=phase_centre_rad, time_index=time_index,
                  n_times=n_times, dtype=dtype)
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda part: fringe_sum(terms=part, **kw), [terms[i::threads] for i in range(threads)]))
        return sum(parts[1:], parts[0])
    nu = np.asarray(freqs_hz, float)
    ra0, dec0 = phase_centre_rad
    out = np.zeros((nu.size, uvw_m.shape[0]), dtype)  # channel-major while summing; returned transposed
    blocks = [slice(c0, min(nu.size, c0 + CHANNEL_BLOCK)) for c0 in range(0, nu.size, CHANNEL_BLOCK)]
    buf = np.empty((CHANNEL_BLOCK, uvw_m.shape[0]), dtype)
    for s, weight in terms:
        l, m, n = direction_cosines(np.radians(s.ra_deg), np.radians(s.dec_deg), ra0, dec0)
        path = (uvw_m[:, 0] * l + uvw_m[:, 1] * m + uvw_m[:, 2] * (n - 1.0)) * (2 * np.pi / C_M_S)  # rad per Hz
        wt = np.broadcast_to(weight, (n_times, nu.size)).T  # (Nchan, n_times)
        for sl in blocks:
            k = _fringe_block(path, nu[sl], buf[: sl.stop - sl.start])
            k *= wt[sl][:, time_index]
            out[sl] += k
    return out.T


def _fringe_block(path_rad_per_hz: np.ndarray, nu: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """exp(i path nu) for one channel block into ``buf`` (len(nu), Nrow): by recurrence
    when the channels are evenly spaced, else one exponential per sample."""
    d = np.diff(nu)
    if nu.size > 2 and np.allclose(d, d[0], rtol=1e-9, atol=0):
        buf[0] = np.exp(1j * path_rad_per_hz * nu[0])
        step = np.exp(1j * path_rad_per_hz * d[0]).astype(buf.dtype)
        for c in range(1, nu.size):
            np.multiply(buf[c - 1], step, out=buf[c])
    else:
        np.exp(1j * nu[:, None] * path_rad_per_hz[None, :], out=buf)
    return buf
