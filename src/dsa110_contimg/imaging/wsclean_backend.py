"""The WSClean backend (Debian's ``wsclean``): same products as tclean, pb from the H5 model.

WSClean images the MS with the w-gridder (``-use-wgridder``), Briggs weighting,
``-niter``/``-threshold``/``-auto-threshold nsigma`` from the settings, on the same cell
and imsize as tclean, with ``-j threads``.  It has no beam model for this telescope, so
the primary beam comes from the same H5 model as the VP table
(:func:`~.primary_beam.model_pb_on_image`), drift-averaged and divided out through
:mod:`.primary_beam` like the tclean path.  The catalog clean mask comes as a FITS image
(``-fits-mask``) on the grid of :func:`.mask.mask_wcs`; the backend checks WSClean's
image against that grid.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

import numpy as np

from ..atomic import atomic_path
from ..settings import Imaging, Telescope
from .backends import BackendBase
from .params import ImagingError
from .primary_beam import drift_pb, model_pb_on_image, pb_correct
from .restoring_beam import fit_main_lobe, restore_with

log = logging.getLogger(__name__)


MISSING = ("imaging.backend is wsclean (the default) but the wsclean executable is not on PATH: install Debian's "
           "package (`make system-deps` as root, or apt-get install wsclean) or set imaging.backend: tclean")


def wsclean_available() -> bool:
    return shutil.which("wsclean") is not None


def threshold_jy(threshold: str) -> float:
    """A tclean-style threshold ("2mJy", "0.1Jy", "0mJy") in Jy."""
    thr = threshold.strip().lower()
    return float(thr.replace("mjy", "")) / 1000.0 if thr.endswith("mjy") else float(thr.replace("jy", "") or 0)


def run_wsclean(*, ms_path: str, prefix: str, imaging: Imaging, geometry: dict, datacolumn: str, threads: int,
                mask: str = "") -> dict[str, str]:
    """Run wsclean (``mask``: a FITS clean mask on the image grid, or ""); returns
    {"image", "residual", "psf"} FITS paths (wsclean's own names)."""
    if not wsclean_available():
        raise ImagingError(MISSING)
    cmd = [
        "wsclean", "-name", prefix, "-size", str(geometry["imsize"]), str(geometry["imsize"]),
        "-scale", f"{geometry['cell_arcsec']:.7f}asec", "-weight", "briggs", str(imaging.robust),
        "-niter", str(geometry["niter"]), "-threshold", repr(threshold_jy(imaging.threshold)), "-gain", "0.1", "-mgain", repr(float(imaging.major_gain)),
        "-data-column", "CORRECTED_DATA" if datacolumn == "corrected" else "DATA", "-pol", "I",
        "-use-wgridder", "-no-update-model-required", "-make-psf", "-j", str(threads),
    ]
    if imaging.nsigma > 0:  # same stopping rule as tclean's nsigma
        cmd += ["-auto-threshold", repr(float(imaging.nsigma))]
    if mask:
        cmd += ["-fits-mask", os.path.abspath(mask)]
    if imaging.deconvolver == "mtmfs":  # wideband: channel images joined, spectral polynomial
        cmd += ["-channels-out", "4", "-join-channels", "-fit-spectral-pol", str(imaging.nterms)]
    if imaging.deconvolver == "multiscale":
        cmd += ["-multiscale", "-multiscale-scales", ",".join(str(s) for s in imaging.scales)]
    cmd.append(os.path.abspath(ms_path))
    log.info("%s", " ".join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log.info("wsclean output (tail):\n%s", res.stdout[-3000:])
    if res.returncode:
        raise ImagingError(f"wsclean failed on {ms_path} (exit {res.returncode}): {res.stderr[-1500:] or res.stdout[-1500:]}")
    mfs = "-MFS" if imaging.deconvolver == "mtmfs" else ""
    out = {"image": f"{prefix}{mfs}-image.fits", "residual": f"{prefix}{mfs}-residual.fits", "psf": f"{prefix}{mfs}-psf.fits",
           "model": f"{prefix}{mfs}-model.fits"}
    for k, p in out.items():
        if k != "model" and not os.path.isfile(p):  # no model without cleaning (niter 0)
            raise ImagingError(f"wsclean wrote no {k} image at {p}")
    return out


def check_grid(image_fits: str, *, ms_path: str, geometry: dict) -> None:
    """Raise :class:`ImagingError` unless WSClean's image lies on :func:`.mask.mask_wcs`'s
    grid (the grid the FITS clean mask was drawn on)."""
    from astropy.io import fits

    from .mask import mask_wcs

    h, w = fits.getheader(image_fits), mask_wcs(ms_path, geometry).wcs
    got = [h["CRPIX1"], h["CRPIX2"], h["CDELT1"], h["CDELT2"], h["CRVAL1"] % 360.0, h["CRVAL2"]]
    want = [*w.crpix, *w.cdelt, *w.crval]
    # deg; WSClean's phase centre differs from casacore's by a few mas (9 mas = 0.003 cell
    # measured on a full-size group): 0.01 cell is far inside any mask circle
    cell = abs(want[2])
    ok = (np.allclose(got[:2], want[:2], rtol=0, atol=1e-6) and np.allclose(got[2:4], want[2:4], rtol=1e-6, atol=0)
          and abs(((got[4] - want[4] + 180.0) % 360.0 - 180.0) * np.cos(np.radians(want[5]))) < 1e-2 * cell
          and abs(got[5] - want[5]) < 1e-2 * cell)
    if not ok or not h["CTYPE1"].endswith("SIN"):
        raise ImagingError(f"{image_fits}: WSClean's grid (CRPIX, CDELT, CRVAL {got}) is not the mask's ({want})")


def restore_main_lobe(raw: dict[str, str]) -> str:
    """Restore WSClean's model onto its residual with the Gaussian fitted to the PSF's main
    lobe (:mod:`.restoring_beam`: WSClean's own fit is too narrow for DSA-110's PSF, which
    biased restored peaks low by ~0.25%); returns the new restored image's path."""
    from astropy.io import fits

    if not os.path.isfile(raw["model"]):
        return raw["image"]  # nothing was cleaned: the image is the residual
    with fits.open(raw["psf"]) as hd:
        psf, cell_arcsec = np.squeeze(hd[0].data), abs(hd[0].header["CDELT2"]) * 3600.0
    try:
        beam = fit_main_lobe(psf, cell_arcsec=cell_arcsec)
    except ValueError as err:
        log.warning("%s: %s; keeping WSClean's restoring beam", raw["psf"], err)
        return raw["image"]
    out = raw["image"].replace("-image.fits", "-restored.fits")
    restore_with(residual=raw["residual"], model=raw["model"], out=out, beam=beam)
    log.info("restoring beam fitted to the PSF main lobe: %.1f\" x %.1f\" PA %.1f deg", *beam)
    return out


def image_pb(image_fits: str, ms_path: str, *, beam_h5: str, telescope: Telescope, drift: bool) -> np.ndarray:
    """The H5 model's beam on the image grid (2-D, FITS order), drift-averaged over the
    integrations of ``ms_path`` when ``drift``."""
    from astropy.io import fits

    static = model_pb_on_image(image_fits, beam_h5)
    if not drift:
        return static
    h = fits.getheader(image_fits)
    return drift_pb(static, ms_path, telescope=telescope, dec0_rad=np.radians(h["CRVAL2"]),
                    inc_ra_rad=-np.radians(abs(h["CDELT1"])), ra_axis=1)


class WscleanBackend(BackendBase):
    """WSClean (two cores: ``-j 2``), primary beam from the H5 model."""

    def image(self, *, ms_path: str, work_prefix: str, target: str, imaging: Imaging, telescope: Telescope,
              geometry: dict, datacolumn: str, products: list[str], cards: dict, vptable: str, beam_h5: str,
              mask: str = "") -> dict[str, str]:
        """wsclean, the model pb (drift-averaged with ``imaging.drift_pb``), pbcor, then FITS."""
        from astropy.io import fits as pyfits

        if not beam_h5:
            raise ImagingError("the wsclean backend needs the H5 beam model (imaging.beam_h5)")
        raw = run_wsclean(ms_path=ms_path, prefix=work_prefix, imaging=imaging, geometry=geometry, datacolumn=datacolumn,
                          threads=self.threads, mask=mask)
        check_grid(raw["image"], ms_path=ms_path, geometry=geometry)
        raw["image"] = restore_main_lobe(raw)
        pb = image_pb(raw["image"], ms_path, beam_h5=beam_h5, telescope=telescope, drift=imaging.drift_pb)
        with pyfits.open(raw["image"]) as hd:
            img, hdr = hd[0].data, hd[0].header
            beam = {k: hdr[k] for k in ("BMAJ", "BMIN", "BPA")}
        pbcor, pb_masked = pb_correct(img, pb, imaging.pblimit)
        arrays = {"image": img, "image.pbcor": pbcor, "pb": pb_masked[None, None] * np.ones_like(img)}
        for extra in ("residual", "psf"):
            with pyfits.open(raw[extra]) as hd:
                arrays[extra] = hd[0].data
        out = {}
        for prod in products:
            dst = f"{target}.{prod}.fits"
            h = hdr.copy()
            h.update(cards)
            h.update(beam)
            h["BUNIT"] = "Jy/beam" if prod != "pb" else ""
            with atomic_path(dst) as tmp:
                pyfits.PrimaryHDU(np.asarray(arrays[prod], dtype=np.float32), h).writeto(tmp)
            out[prod] = dst
        return out
