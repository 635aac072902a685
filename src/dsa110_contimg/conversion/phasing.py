"""Phasing a DSA-110 group to the meridian at its midpoint.

Raw DSA-110 data are fringe-stopped towards hour angle ``ha_phase_center`` (0, the
local meridian) at declination ``phase_center_dec`` (extra_keywords, radians): the
phase centre moves with the sky, and ``uvw_array`` holds the baselines projected on
that direction.  The converter re-phases every integration to one fixed sky position:

    RA  = local apparent sidereal time at the group's mid-time,
    Dec = the pointing declination          (both apparent, then converted to ICRS)

In pyuvdata's convention (baseline ``b = x[ant2] - x[ant1]``,
``V = sum S exp(+2 pi i b.(s - s0)/lambda)``) the re-phased visibilities are

    V_new = V_raw * exp(-2 pi i nu (w_new - w_raw) / c)

with ``w_raw`` from the file's ``uvw_array`` and ``w_new`` computed from the station
positions towards the new centre's apparent position at each integration; (u, v)
are then rotated from apparent to ICRS axes (:func:`frame_position_angle`).  The MS
stores ``conj(V_new)`` and ``-uvw_new`` (CASA's sign convention), as pyuvdata does.
"""

from __future__ import annotations

import math

import numpy as np

from .. import astrometry
from ..geometry import C_M_S, uvw_hadec


def phase_center(times_jd: np.ndarray, dec_rad: float, loc) -> tuple[float, float, float]:
    """(ra_icrs, dec_icrs, mid_jd) of the meridian at the midpoint of ``times_jd`` (radians)."""
    ut = np.unique(times_jd)
    mid = 0.5 * (ut[0] + ut[-1])
    ra, dec = astrometry.meridian_icrs(mid, dec_rad, loc)
    return ra, dec, mid


def uvw_to_center(ant_ecef: dict[int, np.ndarray], ant1, ant2, times_jd, ra_icrs, dec_icrs, loc) -> np.ndarray:
    """UVW (metres, pyuvdata convention x[ant2]-x[ant1]) towards an ICRS direction, per blt.

    ``ant_ecef`` maps antenna number -> ITRF position (m).  The direction's apparent
    hour angle and declination are computed once per unique time.
    """
    ut, inv = np.unique(times_jd, return_inverse=True)
    ha, dec_app = astrometry.hadec_of(np.full(ut.shape, ra_icrs), np.full(ut.shape, dec_icrs), ut, loc)
    nums = np.array(sorted(ant_ecef))
    lut = np.full(nums.max() + 1, -1)
    lut[nums] = np.arange(nums.size)
    pos = np.array([ant_ecef[n] for n in nums])
    pos = pos - pos.mean(axis=0)
    bl = pos[lut[ant2]] - pos[lut[ant1]]
    uvw = uvw_hadec(bl, ha[inv], dec_app[inv], math.radians(loc.lon.deg))
    # (u, v) from the apparent frame to ICRS axes: v towards ICRS north
    pa = frame_position_angle(ra_icrs, dec_icrs, ut, loc)[inv]
    u, v = uvw[:, 0].copy(), uvw[:, 1].copy()
    uvw[:, 0] = u * np.cos(pa) - v * np.sin(pa)
    uvw[:, 1] = u * np.sin(pa) + v * np.cos(pa)
    return uvw


def frame_position_angle(ra_icrs: float, dec_icrs: float, times_jd: np.ndarray, loc, eps: float = 1e-5) -> np.ndarray:
    """Position angle (radians, north through east) of ICRS north at the centre, in the apparent frame.

    The MS stores UVW in the frame of its phase direction (J2000/ICRS), so the
    apparent-frame (u, v) are rotated by this angle (about 0.2 deg in 2026 at Dec 55).
    """
    n = len(times_jd)
    ra = np.full(2 * n, ra_icrs)
    dec = np.concatenate([np.full(n, dec_icrs), np.full(n, dec_icrs + eps)])
    ra_a, dec_a = astrometry.icrs_to_apparent(ra, dec, np.concatenate([times_jd, times_jd]), loc)
    dra = np.angle(np.exp(1j * (ra_a[n:] - ra_a[:n])))
    return np.arctan2(dra * np.cos(dec_a[:n]), dec_a[n:] - dec_a[:n])


def phase_factor(dw_m: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """``exp(-2 pi i nu dw / c)``, shape (Nblts, Nfreqs), complex64."""
    ph = (-2.0 * np.pi / C_M_S) * np.outer(dw_m, freqs_hz)
    out = np.empty(ph.shape, np.complex64)
    out.real = np.cos(ph)
    out.imag = np.sin(ph)
    return out
