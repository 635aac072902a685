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

with ``w_raw`` from the file's ``uvw_array`` and ``w_new = b . s`` computed from the
station positions (ITRF) and the centre's topocentric direction ``s`` in ITRS at each
integration (astropy: precession, nutation, aberration, polar motion); u and v lie
along the ICRS east and north at the centre.  The MS
stores ``conj(V_new)`` and ``-uvw_new`` (CASA's sign convention), as pyuvdata does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import astrometry
from ..geometry import C_M_S


@dataclass(frozen=True)
class PhaseCentre:
    """The fixed phase centre of a converted group: ICRS radians and the FIELD name."""

    ra_rad: float
    dec_rad: float
    name: str


def phase_center(times_jd: np.ndarray, dec_rad: float, loc) -> tuple[float, float, float]:
    """(ra_icrs, dec_icrs, mid_jd) of the meridian at the midpoint of ``times_jd`` (radians);
    ``loc`` is the array's ``EarthLocation`` (``Telescope.location``)."""
    ut = np.unique(times_jd)
    mid = 0.5 * (ut[0] + ut[-1])
    ra, dec = astrometry.meridian_icrs(mid, dec_rad, loc)
    return ra, dec, mid


def uvw_to_center(ant_ecef: dict[int, np.ndarray], ant1, ant2, times_jd, *, ra_icrs: float, dec_icrs: float,
                  location) -> np.ndarray:
    """UVW (metres, pyuvdata convention x[ant2]-x[ant1]) towards an ICRS direction (radians), per blt.

    ``ant_ecef`` maps antenna number -> ITRF position (m).  The (u, v, w) axes are
    those of :func:`dsa110_contimg.astrometry.uvw_basis` (ICRS axes; w towards the
    apparent topocentric direction, so aberration and polar motion are included),
    computed once per unique time.
    """
    ut, inv = np.unique(times_jd, return_inverse=True)
    basis = astrometry.uvw_basis(ra_icrs, dec_icrs, ut, location)  # (Nt, 3, 3)
    nums = np.array(sorted(ant_ecef))
    lut = np.full(nums.max() + 1, -1)
    lut[nums] = np.arange(nums.size)
    pos = np.array([ant_ecef[n] for n in nums])
    pos = pos - pos.mean(axis=0)
    bl = pos[lut[np.asarray(ant2)]] - pos[lut[np.asarray(ant1)]]
    return np.einsum("nk,njk->nj", bl, basis[inv])


def phase_factor(dw_m: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """``exp(-2 pi i nu dw / c)``, shape (Nblts, Nfreqs), complex64."""
    ph = (-2.0 * np.pi / C_M_S) * np.outer(dw_m, freqs_hz)
    out = np.empty(ph.shape, np.complex64)
    out.real = np.cos(ph)
    out.imag = np.sin(ph)
    return out


def phase_factor_uniform(dw_m: np.ndarray, f0_hz: float, df_hz: float, nchan: int, block: int = 48) -> np.ndarray:
    """:func:`phase_factor` for channels ``f0 + k df`` (k < nchan), with far fewer sin/cos.

    ``exp(-2 pi i dw (f0 + (block j + k) df) / c) = exp(-2 pi i dw (f0 + block j df)/c)
    * exp(-2 pi i dw k df / c)``: evaluated as the outer product of a coarse and a fine
    factor.  Shape (Nblts, nchan), complex64.
    """
    nb = -(-nchan // block)
    coarse = phase_factor(dw_m, f0_hz + block * df_hz * np.arange(nb))  # (N, nb)
    fine = phase_factor(dw_m, df_hz * np.arange(block))  # (N, block)
    out = (coarse[:, :, None] * fine[:, None, :]).reshape(dw_m.size, nb * block)
    return out[:, :nchan]
