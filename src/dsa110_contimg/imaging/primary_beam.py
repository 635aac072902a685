"""The primary beam of a drift-scan image, shared by every backend.

A DSA-110 dish points at the meridian of each integration: during a 5-minute group its
pointing slides ~1.3 deg of RA through the phase centre (the meridian at mid-time), so
the image's true response is the time average of the static beam shifted along RA,
about 1.8% lower on axis.  :func:`drift_average` forms that average from a static beam
on the image grid (tclean's ``.pb`` from the VP table, or :func:`model_pb_on_image` from
the H5 model for WSClean); :func:`pb_correct` divides by it where it reaches ``pblimit``
(NaN elsewhere).  Both backends go through these two functions.

Pixel grids here are 2-D; ``ra_axis`` names the array axis along RA (0 for CASA's
(x, y) order, 1 for FITS (y, x) order).
"""

from __future__ import annotations

import math

import numpy as np

from ..beam.h5model import read_model
from ..beam.vptable import jones_on_grid
from ..msmeta import pointing_ra_offsets_rad
from ..settings import Telescope
from ..sky import REF_FREQ_HZ


def drift_shift_pixels(dra_rad, dec0_rad: float, inc_x_rad: float) -> np.ndarray:
    """Pixel shifts along the RA axis for RA offsets ``dra_rad`` at declination ``dec0_rad``
    (``inc_x_rad``: the RA axis increment, radians per pixel, negative when RA increases to the left)."""
    return np.asarray(dra_rad) * math.cos(dec0_rad) / inc_x_rad


def drift_average(static: np.ndarray, shifts_px: np.ndarray, *, ra_axis: int) -> np.ndarray:
    """pb_eff = mean over integrations of ``static`` shifted by ``shifts_px`` (pixels) along
    ``ra_axis`` (linear interpolation, 0 outside the grid, as ``scipy.ndimage.shift`` with
    ``order=1, mode="constant"``); same dtype as ``static``.  A shift by k + f pixels (k an
    integer, 0 <= f < 1) is (1 - f) x the image moved by k plus f x the image moved by k + 1:
    two slice additions per integration instead of a full interpolation pass."""
    a = np.moveaxis(static, ra_axis, 0)
    eff = np.zeros(a.shape, np.float64)
    n = a.shape[0]
    for s in np.asarray(shifts_px, float):
        k = math.floor(s)
        f = s - k
        # out[i] = (1 - f) a[i - k] + f a[i - k - 1] where the sample point i - s lies on the grid
        lo, hi = max(0, math.ceil(s)), min(n - 1, math.floor(n - 1 + s))
        if hi < lo:
            continue
        eff[lo:hi + 1] += (1.0 - f) * a[lo - k:hi + 1 - k]
        if f > 0:
            eff[lo:hi + 1] += f * a[lo - k - 1:hi - k]
    eff /= len(shifts_px)
    return np.moveaxis(eff, 0, ra_axis).astype(static.dtype)


def drift_pb(static: np.ndarray, ms_path: str, *, telescope: Telescope, dec0_rad: float, inc_ra_rad: float,
             ra_axis: int) -> np.ndarray:
    """The drift-averaged beam of the image of ``ms_path``: ``static`` (2-D, the beam on the
    image grid for a pointing at the phase centre) averaged over the pointing offsets of the
    MS's integrations (:func:`~dsa110_contimg.msmeta.pointing_ra_offsets_rad`)."""
    dra = pointing_ra_offsets_rad(ms_path, location=telescope.location)
    return drift_average(static, drift_shift_pixels(dra, dec0_rad, inc_ra_rad), ra_axis=ra_axis)


def pb_correct(image: np.ndarray, pb: np.ndarray, pblimit: float) -> tuple[np.ndarray, np.ndarray]:
    """(image / pb where pb >= pblimit else NaN, pb where pb >= pblimit else NaN); ``pb``
    broadcasts against ``image``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pb >= pblimit, image / pb, np.nan), np.where(pb >= pblimit, pb, np.nan)


PB_GRID_DEG = 0.01
"""Cell (deg) of the grid the H5 pattern is evaluated on before interpolation to the image
pixels: ~1/270 of the 2.7 deg half-power width at 1.4 GHz, a linear-interpolation error ~1e-5."""


def model_pb_on_image(image_fits: str, beam_h5: str) -> np.ndarray:
    """Stokes-I power pattern (|Jxx|^2 + |Jxy|^2 + |Jyx|^2 + |Jyy|^2) / 2 of the H5 model on
    the image's pixels (2-D, FITS order (y, x)) for a pointing at the image's reference
    direction (the phase centre), at the image's frequency (1.4 GHz if the image has no
    frequency axis): the nearest model frequency's pattern with its angles scaled by
    nu_model / nu_image (a dish pattern scales with wavelength; as the static beam,
    :func:`dsa110_contimg.beam.drift_beam.source_beam`, does).  Drift-average it with :func:`drift_pb`."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from scipy import ndimage

    h = fits.getheader(image_fits)
    w = WCS(h).celestial
    ny, nx = h["NAXIS2"], h["NAXIS1"]
    nu = h["CRVAL3"] if h.get("CTYPE3", "").startswith("FREQ") else REF_FREQ_HZ
    model = read_model(beam_h5, nu)
    scale = nu / model["freq_hz"]  # an offset of x deg at nu sees the model's pattern at x * scale
    # the pattern on a grid of PB_GRID_DEG (or the pixel, if coarser), interpolated linearly:
    # the beam is smooth over arcminutes, and a 4600-pixel image would take ~12 s pixel by pixel
    step = abs(h["CDELT2"])
    sub = max(1, int(PB_GRID_DEG / step))
    half = (max(nx, ny) // 2 + 2 + sub - 1) // sub + 1
    jones, cell = jones_on_grid(model, npix=2 * half + 1, extent_deg=half * step * sub * scale)
    cell /= scale  # grid cell in image degrees
    power = 0.5 * np.sum(np.abs(jones) ** 2, axis=0)  # (x, y) offsets, cell == step
    # image pixel (x, y) -> offset from the reference pixel, in grid pixels (x to the east = -RA pixel)
    yy, xx = np.mgrid[0:ny, 0:nx]
    crpix = w.wcs.crpix - 1
    gx = half - (xx - crpix[0]) * abs(w.wcs.cdelt[0]) / cell  # RA increases to the left: east = -x
    gy = half + (yy - crpix[1]) * abs(w.wcs.cdelt[1]) / cell
    return ndimage.map_coordinates(power, [gx, gy], order=1, mode="constant", cval=0.0)
