"""Model visibilities of point sources drifting through an Airy primary beam.

Physics (pyuvdata data convention, baseline b = x_j - x_i)::

    V_ij(t, nu) = conj(J_i) J_j * sum_s S_s(nu) A_s(t, nu) exp(+2 pi i nu/c b.(s - s0(t)))
                  + noise (+ RFI)

- ``s0(t)`` is the fringe-stopping centre of the raw data: hour angle 0 (local
  meridian) and the pointing declination, both apparent, at each integration.
  The written ``uvw_array`` is ``b`` projected on that direction (constant in time
  for a fixed HA/Dec), as in real DSA-110 files.
- ``b.s`` uses the source's apparent HA/Dec at each integration (astropy TETE), so the
  full w-term is included.
- ``A`` is the Airy power pattern of a 4.65 m dish about (HA=0, pointing dec),
  evaluated per integration and channel.
- ``S_s(nu) = S_1.4GHz (nu / 1.4 GHz)^alpha``; XX = YY = S (unpolarised, CASA's
  Stokes I = (XX + YY) / 2).
- Noise: radiometer equation, per real/imag part sigma = SEFD / sqrt(2 dnu dt) for
  cross-correlations; autocorrelations carry SEFD |J|^2 plus sigma = SEFD/sqrt(dnu dt).
"""

from __future__ import annotations

import numpy as np

from .. import astrometry
from ..geometry import C_M_S, airy_power, angular_separation, uvw_hadec

REF_FREQ_HZ = 1.4e9


def source_geometry(sky: list[dict], times_jd: np.ndarray, dec_p_rad: float, loc, max_sep_deg: float = 12.0):
    """Apparent HA/Dec (Ns, Nt) of the sources near the beam, and their indices in ``sky``."""
    ra = np.radians([s["ra_deg"] for s in sky])
    dec = np.radians([s["dec_deg"] for s in sky])
    mid = float(np.mean(times_jd))
    ha_mid, dec_mid = astrometry.hadec_of(ra, dec, np.full(ra.shape, mid), loc)
    keep = np.nonzero(angular_separation(ha_mid, dec_mid, 0.0, dec_p_rad) < np.radians(max_sep_deg))[0]
    if keep.size == 0:
        return keep, np.zeros((0, len(times_jd))), np.zeros((0, len(times_jd)))
    rr = np.repeat(ra[keep][:, None], len(times_jd), axis=1)
    dd = np.repeat(dec[keep][:, None], len(times_jd), axis=1)
    tt = np.broadcast_to(times_jd, rr.shape)
    ha, da = astrometry.hadec_of(rr.ravel(), dd.ravel(), tt.ravel(), loc)
    return keep, ha.reshape(rr.shape), da.reshape(rr.shape)


def true_visibilities(
    ant_rel_ecef: np.ndarray,
    lon_rad: float,
    dec_p_rad: float,
    freqs_hz: np.ndarray,
    flux_jy: np.ndarray,
    alpha: np.ndarray,
    ha: np.ndarray,
    dec: np.ndarray,
    dish_m: float,
) -> np.ndarray:
    """Uncorrupted sky visibilities, shape (Nt, Nf, Na, Na), complex64, pyuvdata convention.

    ``ant_rel_ecef`` (Na, 3) are antenna positions relative to the array centre (m);
    ``ha``/``dec`` (Ns, Nt) apparent source coordinates (rad); ``freqs_hz`` (Nf).
    The diagonal holds sum_s S A (the sky contribution to the autocorrelations).
    """
    na = ant_rel_ecef.shape[0]
    nt = ha.shape[1]
    nf = len(freqs_hz)
    if ha.shape[0] == 0:
        return np.zeros((nt, nf, na, na), dtype=np.complex64)
    w_fs = uvw_hadec(ant_rel_ecef, 0.0, dec_p_rad, lon_rad)[:, 2]  # (Na,)
    # w of each antenna towards each source at each time: (Na, Ns, Nt)
    w_s = uvw_hadec(ant_rel_ecef[:, None, None, :], ha[None], dec[None], lon_rad)[..., 2]
    dw = (w_s - w_fs[:, None, None]).transpose(2, 0, 1)  # (Nt, Na, Ns)
    sep = angular_separation(ha, dec, 0.0, dec_p_rad)  # (Ns, Nt)
    beam = airy_power(sep.T[:, None, :], freqs_hz[None, :, None], dish_m)  # (Nt, Nf, Ns)
    spec = flux_jy[None, :] * (freqs_hz[:, None] / REF_FREQ_HZ) ** alpha[None, :]  # (Nf, Ns)
    sa = (beam * spec[None]).astype(np.float32)  # (Nt, Nf, Ns)
    out = np.empty((nt, nf, na, na), dtype=np.complex64)
    for it in range(nt):
        phase = (2 * np.pi / C_M_S) * freqs_hz[:, None, None] * dw[it][None]  # (Nf, Na, Ns)
        e = np.exp(1j * phase).astype(np.complex64)
        # V[i, j] = sum_s conj(E_i) S A E_j
        out[it] = np.matmul(np.conj(e) * sa[it][:, None, :], np.swapaxes(e, 1, 2))
    return out
