"""Model visibilities of point sources drifting through an Airy primary beam.

Physics (pyuvdata data convention, baseline b = x_j - x_i)::

    V_ij(t, nu) = conj(J_i) J_j * sum_s S_s(nu) A_s(t, nu) exp(+2 pi i nu/c b.(s - s0(t)))
                  + noise (+ RFI)

- ``s0(t)`` is the fringe-stopping centre of the raw data: hour angle 0 (local
  meridian) and the pointing declination, both apparent, at each integration.
  The written ``uvw_array`` is ``b`` projected on that direction's (u, v, w) axes
  (nearly constant in time for a fixed HA/Dec), as in real DSA-110 files.
- ``b.s`` uses the source's topocentric direction in ITRS at each integration
  (astropy: precession, nutation, aberration, polar motion), so the full w-term is in.
- ``A`` is the Airy power pattern of a 4.65 m dish about (HA=0, pointing dec),
  evaluated per integration and channel.
- ``S_s(nu) = S_1.4GHz (nu / 1.4 GHz)^alpha``; XX = YY = S (unpolarised, CASA's
  Stokes I = (XX + YY) / 2).
- Noise: radiometer equation, per real/imag part sigma = SEFD / sqrt(2 dnu dt) for
  cross-correlations; autocorrelations carry SEFD |J|^2 plus sigma = SEFD/sqrt(dnu dt).
  Noise enters before the antenna gains (it is multiplied by conj(J_i) J_j like the sky),
  so calibrated data carry exactly the radiometer noise; a dead antenna adds noise with
  unit gain but no signal.
"""

from __future__ import annotations

import numpy as np

from .. import astrometry
from ..geometry import C_M_S, airy_power, angular_separation
from ..sky import REF_FREQ_HZ


def fringestop_basis(times_jd: np.ndarray, *, dec_p_rad: float, location) -> np.ndarray:
    """(u, v, w) ITRS basis (Nt, 3, 3) of the raw data's phase centre at ``times_jd`` (UTC JD):
    HA = 0, apparent declination ``dec_p_rad``, seen from ``location`` (astropy EarthLocation)."""
    lst = astrometry.last_rad(times_jd, location)
    return astrometry.uvw_basis(lst, np.full(lst.shape, dec_p_rad), times_jd, location, frame="apparent")


def source_directions(sky: list[dict], *, times_jd: np.ndarray, dec_p_rad: float, location,
                      max_sep_deg: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``sky`` of the sources within ``max_sep_deg`` of the beam centre (HA 0,
    ``dec_p_rad``) at the mid-time, and their ITRS unit vectors (Ns, Nt, 3) at ``times_jd``."""
    loc = location
    ra = np.radians([s["ra_deg"] for s in sky])
    dec = np.radians([s["dec_deg"] for s in sky])
    mid = float(np.mean(times_jd))
    ha_mid, dec_mid = astrometry.hadec_of(ra, dec, np.full(ra.shape, mid), loc)
    keep = np.nonzero(angular_separation(ha_mid, dec_mid, 0.0, dec_p_rad) < np.radians(max_sep_deg))[0]
    nt = len(times_jd)
    if keep.size == 0:
        return keep, np.zeros((0, nt, 3))
    rr = np.repeat(ra[keep][:, None], nt, axis=1).ravel()
    dd = np.repeat(dec[keep][:, None], nt, axis=1).ravel()
    tt = np.broadcast_to(times_jd, (keep.size, nt)).ravel()
    return keep, astrometry.direction_itrs(rr, dd, tt, loc).reshape(keep.size, nt, 3)


def true_visibilities(
    *,
    ant_rel_ecef: np.ndarray,
    s_src: np.ndarray,
    s_fs: np.ndarray,
    freqs_hz: np.ndarray,
    flux_jy: np.ndarray,
    alpha: np.ndarray,
    dish_m: float,
) -> np.ndarray:
    """Uncorrupted sky visibilities, shape (Nt, Nf, Na, Na), complex64, pyuvdata convention.

    ``ant_rel_ecef`` (Na, 3): antenna positions relative to the array centre (ITRF m);
    ``s_src`` (Ns, Nt, 3): ITRS unit vectors to the sources; ``s_fs`` (Nt, 3): to the
    fringe-stopping centre (also the beam centre); ``freqs_hz`` (Nf,); ``flux_jy`` (Ns,) at
    ``REF_FREQ_HZ``; ``alpha`` (Ns,) spectral indices; ``dish_m`` dish diameter (m).
    The diagonal holds sum_s S A.
    """
    na = ant_rel_ecef.shape[0]
    nt = s_fs.shape[0]
    nf = len(freqs_hz)
    if s_src.shape[0] == 0:
        return np.zeros((nt, nf, na, na), dtype=np.complex64)
    # delay path difference per antenna, source and time: x_a . (s - s0)  -> (Nt, Na, Ns)
    dw = np.einsum("ak,stk->tas", ant_rel_ecef, s_src - s_fs[None])
    sep = np.arccos(np.clip(np.einsum("stk,tk->st", s_src, s_fs), -1.0, 1.0))  # (Ns, Nt)
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
