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
               time_index: np.ndarray, n_times: int) -> np.ndarray:
    """sum over (source, W[t, chan]) of W[time_index, chan] K_s: complex128 (Nrow, Nchan).

    ``terms``: pairs of (anything with ``ra_deg``/``dec_deg``, weight array broadcastable
    to (``n_times``, Nchan)); ``time_index`` (Nrow,) picks each row's row of W.
    K_s = exp(+2 pi i nu/c (u l + v m + w (n - 1))) (module convention).
    """
    nu = np.asarray(freqs_hz, float)
    ra0, dec0 = phase_centre_rad
    out = np.zeros((uvw_m.shape[0], nu.size), np.complex128)
    for s, weight in terms:
        l, m, n = direction_cosines(np.radians(s.ra_deg), np.radians(s.dec_deg), ra0, dec0)
        path = uvw_m[:, 0] * l + uvw_m[:, 1] * m + uvw_m[:, 2] * (n - 1.0)  # metres
        w = np.broadcast_to(weight, (n_times, nu.size))
        for c0 in range(0, nu.size, CHANNEL_BLOCK):
            sl = slice(c0, min(nu.size, c0 + CHANNEL_BLOCK))
            out[:, sl] += np.exp(2j * np.pi * path[:, None] * (nu[sl] / C_M_S)[None, :]) * w[time_index, sl]
    return out
