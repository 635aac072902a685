"""The optional WSClean backend (Debian's ``wsclean``), same products as the tclean path.

WSClean images the MS with the w-gridder (``-use-wgridder``), Briggs weighting,
``-niter``/``-threshold`` from the config, on the same cell and imsize as tclean.  It has
no beam model for this telescope, so the primary beam comes from the same H5 model as the
VP table: evaluated at every pixel's offset from the phase centre (Stokes I power
(|Jxx|^2 + |Jxy|^2 + |Jyx|^2 + |Jyy|^2) / 2) and averaged over the group's pointing drift
like the tclean path (:func:`dsa110_contimg.imaging.tclean_image.drift_shift_pixels`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

import numpy as np

from ..beam.h5model import read_model
from ..beam.vptable import jones_on_grid
from .tclean_image import ImagingError

log = logging.getLogger(__name__)


def wsclean_available() -> bool:
    return shutil.which("wsclean") is not None


def run_wsclean(ms_path: str, prefix: str, icfg: dict, geom: dict, datacolumn: str, threads: int = 2) -> dict[str, str]:
    """Run wsclean; returns {"image", "residual", "psf"} FITS paths (wsclean's own names)."""
    if not wsclean_available():
        raise ImagingError("imaging.backend = wsclean but the wsclean executable is not on PATH (Debian: apt-get install wsclean)")
    thr = icfg["threshold"].strip().lower()
    thr_jy = float(thr.replace("mjy", "")) / 1000.0 if thr.endswith("mjy") else float(thr.replace("jy", "") or 0)
    cmd = [
        "wsclean", "-name", prefix, "-size", str(geom["imsize"]), str(geom["imsize"]),
        "-scale", f"{geom['cell_arcsec']:.4f}asec", "-weight", "briggs", str(icfg["robust"]),
        "-niter", str(geom["niter"]), "-threshold", repr(thr_jy), "-gain", "0.1", "-mgain", "0.8",
        "-data-column", "CORRECTED_DATA" if datacolumn == "corrected" else "DATA", "-pol", "I",
        "-use-wgridder", "-no-update-model-required", "-make-psf", "-j", str(threads),
    ]
    if icfg.get("nsigma", 0) > 0:  # same stopping rule as tclean's nsigma
        cmd += ["-auto-threshold", repr(float(icfg["nsigma"]))]
    if icfg["deconvolver"] == "mtmfs":  # wideband: channel images joined, spectral polynomial
        cmd += ["-channels-out", "4", "-join-channels", "-fit-spectral-pol", str(icfg["nterms"])]
    if icfg["deconvolver"] == "multiscale":
        cmd += ["-multiscale", "-multiscale-scales", ",".join(str(s) for s in icfg["scales"])]
    cmd.append(os.path.abspath(ms_path))
    log.info("%s", " ".join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log.info("wsclean output (tail):\n%s", res.stdout[-3000:])
    if res.returncode:
        raise ImagingError(f"wsclean failed on {ms_path} (exit {res.returncode}): {res.stderr[-1500:] or res.stdout[-1500:]}")
    mfs = "-MFS" if icfg["deconvolver"] == "mtmfs" else ""
    out = {"image": f"{prefix}{mfs}-image.fits", "residual": f"{prefix}{mfs}-residual.fits", "psf": f"{prefix}{mfs}-psf.fits"}
    for k, p in out.items():
        if not os.path.isfile(p):
            raise ImagingError(f"wsclean wrote no {k} image at {p}")
    return out


def model_pb_on_image(image_fits: str, beam_h5: str, dra_rad: np.ndarray | None = None) -> np.ndarray:
    """Stokes-I power pattern of the H5 model on the image's pixels (2-D), drift-averaged.

    Offsets are measured on the sky from the image's reference direction (the phase
    centre); ``dra_rad`` are the pointing offsets in RA at each integration (radians).
    """
    from astropy.io import fits  # noqa: PLC0415
    from astropy.wcs import WCS  # noqa: PLC0415
    from scipy import ndimage  # noqa: PLC0415

    h = fits.getheader(image_fits)
    w = WCS(h).celestial
    ny, nx = h["NAXIS2"], h["NAXIS1"]
    model = read_model(beam_h5, h["CRVAL3"] if h.get("CTYPE3", "").startswith("FREQ") else 1.4e9)
    step = abs(h["CDELT2"])
    half = max(nx, ny) // 2 + 2
    jones, cell = jones_on_grid(model, npix=2 * half + 1, extent_deg=half * step)
    power = 0.5 * np.sum(np.abs(jones) ** 2, axis=0)  # (x, y) offsets, cell == step
    # image pixel (x, y) -> offset from the reference pixel, in grid pixels (x to the east = -RA pixel)
    yy, xx = np.mgrid[0:ny, 0:nx]
    crpix = w.wcs.crpix - 1
    gx = half - (xx - crpix[0]) * abs(w.wcs.cdelt[0]) / cell  # RA increases to the left: east = -x
    gy = half + (yy - crpix[1]) * abs(w.wcs.cdelt[1]) / cell
    static = ndimage.map_coordinates(power, [gx, gy], order=1, mode="constant", cval=0.0)
    if dra_rad is None:
        return static
    from .tclean_image import drift_shift_pixels  # noqa: PLC0415

    dec0 = np.radians(h["CRVAL2"])
    shifts = drift_shift_pixels(dra_rad, dec0, -np.radians(abs(w.wcs.cdelt[0])))
    return np.mean([ndimage.shift(static, (0.0, s), order=1, mode="constant", cval=0.0) for s in shifts], axis=0)
