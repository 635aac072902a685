"""The catalog clean mask: circles at bright catalog sources, as CRTF (tclean) or FITS (WSClean).

Cleaning only around catalog sources keeps CLEAN from placing components on noise peaks,
which on a 5-minute snapshot of a sparse array takes flux from real sources (CLEAN bias,
~1 sigma per source on the demo without a mask).  Sources not in the catalog stay in the
residual, and so in the restored image.
"""

from __future__ import annotations

import math

import numpy as np

from ..geometry import airy_power, angular_separation
from ..msmeta import phase_centre_rad
from ..settings import Imaging, Telescope
from ..sky import REF_FREQ_HZ, PointSource


def mask_circles(*, sources: list[PointSource], ms_path: str, geometry: dict, imaging: Imaging,
                 telescope: Telescope) -> list[tuple[float, float, float]]:
    """The catalog clean mask as circles (RA deg, Dec deg, radius arcsec): one of
    ``imaging.mask_radius_beams`` synthesized beams at every catalog source within the image
    radius whose 1.4 GHz catalog flux times the Airy beam of the telescope's dish at its
    distance from the phase centre reaches ``imaging.mask_min_mjy``.

    Cleaning only there keeps CLEAN from placing components on noise peaks, which on a
    5-minute snapshot of a sparse array takes flux from real sources (CLEAN bias, ~1 sigma
    per source on the demo without a mask)."""
    ra0, dec0 = phase_centre_rad(ms_path)
    radius_arcsec = imaging.mask_radius_beams * geometry["beam_arcsec"]
    out = []
    for s in sources:
        sep = float(angular_separation(math.radians(s.ra_deg), math.radians(s.dec_deg), ra0, dec0))
        if math.degrees(sep) > geometry["fov_deg"] / 2 or \
                s.flux_jy * 1e3 * float(airy_power(sep, REF_FREQ_HZ, telescope.dish_diameter_m)) < imaging.mask_min_mjy:
            continue
        out.append((s.ra_deg, s.dec_deg, radius_arcsec))
    return out


def write_crtf_mask(path: str, *, circles) -> None:
    """The circles of :func:`mask_circles` as a CASA region (CRTF) file, tclean's ``mask``."""
    lines = ["#CRTFv0", *(f"circle [[{ra:.6f}deg, {dec:.6f}deg], {r:.1f}arcsec]" for ra, dec, r in circles)]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def mask_wcs(ms_path: str, geometry: dict):
    """The image grid WSClean uses for ``geometry`` (celestial astropy WCS): SIN projection
    about the MS phase centre, ``imsize`` pixels of ``cell_arcsec``, RA increasing to the
    left, the phase centre at 0-based pixel (imsize/2, imsize/2).  The WSClean backend checks
    its images against this grid."""
    from astropy.wcs import WCS

    ra0, dec0 = (math.degrees(a) for a in phase_centre_rad(ms_path))
    n, cell = geometry["imsize"], geometry["cell_arcsec"] / 3600.0
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra0 % 360.0, dec0]
    w.wcs.cdelt = [-cell, cell]
    w.wcs.crpix = [n // 2 + 1, n // 2 + 1]
    return w


def write_fits_mask(path: str, *, circles, ms_path: str, geometry: dict) -> None:
    """The circles of :func:`mask_circles` as a FITS image on :func:`mask_wcs`'s grid
    (1 inside a circle, 0 elsewhere; shape (1, 1, imsize, imsize)), WSClean's ``-fits-mask``."""
    from astropy.io import fits

    w = mask_wcs(ms_path, geometry)
    n, cell = geometry["imsize"], geometry["cell_arcsec"] / 3600.0
    mask = np.zeros((n, n), np.float32)
    for ra, dec, r_arcsec in circles:
        x, y = (float(v) for v in w.world_to_pixel_values(ra, dec))
        rp = r_arcsec / 3600.0 / cell
        x0, x1 = max(0, int(x - rp) - 1), min(n, int(x + rp) + 2)
        y0, y1 = max(0, int(y - rp) - 1), min(n, int(y + rp) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1][(xx - x) ** 2 + (yy - y) ** 2 <= rp**2] = 1.0
    fits.PrimaryHDU(mask[None, None], w.to_header()).writeto(path, overwrite=True)
