"""The CASA tclean backend: w-projection, primary beam from the VP table, FITS export.

Defaults: ``gridder='wproject'`` with an explicit ``wprojplanes`` (``-1`` crashes on
these MS), Briggs robust 0.5, Hogbom (or multiscale, or ``mtmfs`` with ``nterms`` Taylor
terms), ``pblimit=0.25``, primary-beam correction from the VP table, ``savemodel='none'``.

Wideband and drift effect: across the 187 MHz band the primary beam narrows by 13%, and
during the 5-minute drift it changes by up to +-20% towards an off-axis source; single-term
Hogbom clean cannot model either, and leaves a floor that moves fainter sources' peaks.
The workflow removes both for catalog sources before imaging (:mod:`.beam_equalize`).
``mtmfs`` (two Taylor terms) diverges on the demo fields and takes ~3x longer; it is an
option, not the default.  ``mask`` (a CRTF file) restricts cleaning to catalog sources
(:mod:`.mask`); without one tclean cleans inside its pb mask
(``usemask='pb'``).

Primary beam: tclean's ``.pb`` is the VP table's beam at the phase centre (the meridian
at mid-time).  With ``imaging.drift_pb`` it is replaced by its drift average and the
pbcor image by the image divided by that (:mod:`.primary_beam`); the exported ``.pb.fits``
and ``.image.pbcor.fits`` are those.
"""

from __future__ import annotations

import glob
import os
import shutil

import numpy as np

from ..atomic import atomic_path
from ..casa_env import configure_casa
from ..settings import Imaging, Telescope
from .backends import BackendBase
from .params import ImagingError
from .primary_beam import drift_pb, pb_correct


def run_tclean(*, ms_path: str, imagename: str, imaging: Imaging, geometry: dict, datacolumn: str, vptable: str,
               mask: str = "") -> None:
    """tclean ``ms_path`` into the CASA images ``<imagename>.*`` on ``geometry``'s grid
    (:func:`~.params.image_geometry`: cell, imsize, niter, wprojplanes).  ``mask``: a CRTF
    file to clean in (``usemask='user'``), or "" for tclean's pb mask (``usemask='pb'``).
    With ``mtmfs`` the Taylor-term-0 images are renamed to the usual names."""
    configure_casa()
    from casatasks import tclean

    ms_path, imagename, vptable = (os.path.abspath(p) for p in (ms_path, imagename, vptable))
    for p in glob.glob(imagename + ".*"):
        shutil.rmtree(p, ignore_errors=True)
    cwd = os.getcwd()
    os.chdir(os.path.dirname(os.path.abspath(imagename)))  # tclean drops casa-*.log files in the cwd
    try:
        tclean(
            vis=ms_path, imagename=imagename, datacolumn=datacolumn, specmode="mfs", stokes="I",
            imsize=[geometry["imsize"], geometry["imsize"]], cell=f"{geometry['cell_arcsec']:.4f}arcsec",
            gridder="wproject", wprojplanes=geometry["wprojplanes"], vptable=vptable,
            deconvolver=imaging.deconvolver, scales=list(imaging.scales) if imaging.deconvolver == "multiscale" else [],
            nterms=imaging.nterms if imaging.deconvolver == "mtmfs" else 1,
            weighting="briggs", robust=imaging.robust, niter=geometry["niter"], threshold=imaging.threshold, nsigma=imaging.nsigma,
            pblimit=imaging.pblimit, pbcor=True, savemodel="none", interactive=False,
            usemask="user" if mask else "pb", mask=mask,
        )
    finally:
        os.chdir(cwd)
    if imaging.deconvolver == "mtmfs":  # Taylor term 0 is the image at the reference frequency
        for prod in ("image", "image.pbcor", "pb", "residual", "psf", "model"):
            tt0 = {"image.pbcor": "image.tt0.pbcor"}.get(prod, f"{prod}.tt0")
            if os.path.isdir(f"{imagename}.{tt0}"):
                os.rename(f"{imagename}.{tt0}", f"{imagename}.{prod}")
    if not os.path.isdir(imagename + ".image"):
        raise ImagingError(f"tclean wrote no {imagename}.image; see the CASA log in the rule's log")


def drift_average_pb(imagename: str, ms_path: str, *, telescope: Telescope, pblimit: float) -> None:
    """Replace ``<imagename>.pb`` and ``.image.pbcor`` by their drift-scan versions (in place):
    pb_eff from :func:`~.primary_beam.drift_pb` (tclean's pb, NaN taken as 0), pbcor from
    :func:`~.primary_beam.pb_correct` (masked where NaN)."""
    from casatools import image

    ia = image()
    ia.open(imagename + ".pb")
    try:
        pb = ia.getchunk()
        cs = ia.coordsys()
        inc = cs.increment()["numeric"]  # rad/pixel; x increment negative (RA increases to the left)
        dec0 = cs.referencevalue()["numeric"][1]
        cs.done()
        static = np.where(np.isfinite(pb[:, :, 0, 0]), pb[:, :, 0, 0], 0.0)
        # CASA zeroes the pb below pblimit; rebuilding the tail would need the VP: the shifts
        # are small (<0.4 deg) so only the edge within that distance is affected
        eff = drift_pb(static, ms_path, telescope=telescope, dec0_rad=dec0, inc_ra_rad=inc[0], ra_axis=0)
        pb[:, :, 0, 0] = eff
        ia.putchunk(pb)
    finally:
        ia.close()
    ia.open(imagename + ".image")
    try:
        img = ia.getchunk()
    finally:
        ia.close()
    ia.open(imagename + ".image.pbcor")
    try:
        cor, _masked_pb = pb_correct(img, eff[:, :, None, None], pblimit)
        ia.putchunk(cor.astype(np.float32))
        ia.calcmask(f'!isnan("{imagename}.image.pbcor")', name="pbmask")
    finally:
        ia.close()


def export_fits(imagename: str, fits_prefix: str, products: list[str], header_extra: dict) -> dict[str, str]:
    """exportfits each product to ``<fits_prefix>.<product>.fits`` (atomically), adding header cards."""
    configure_casa()
    from astropy.io import fits
    from casatasks import exportfits

    out = {}
    beam = {}
    for prod in sorted(products, key=lambda p: p != "image"):  # the restored image first: it has the beam
        src = f"{imagename}.{prod}"
        dst = f"{fits_prefix}.{prod}.fits"
        with atomic_path(dst) as tmp:
            exportfits(imagename=src, fitsimage=tmp, overwrite=True, velocity=False, dropdeg=False)
            with fits.open(tmp, mode="update") as hdul:
                h = hdul[0].header
                for k, v in header_extra.items():
                    h[k] = v
                if prod.startswith("image"):
                    if "BMAJ" not in h:
                        raise ImagingError(f"{dst}: exported without beam keywords (BMAJ/BMIN/BPA)")
                    beam = {k: h[k] for k in ("BMAJ", "BMIN", "BPA")}
                else:  # residual/psf/pb: carry the restoring beam of the image for reference
                    for k, v in beam.items():
                        h.setdefault(k, v)
        out[prod] = dst
    return out


class TcleanBackend(BackendBase):
    """CASA tclean (one core), primary beam from the VP table."""

    def image(self, *, ms_path: str, work_prefix: str, target: str, imaging: Imaging, telescope: Telescope,
              geometry: dict, datacolumn: str, products: list[str], cards: dict, vptable: str, beam_h5: str,
              mask: str = "") -> dict[str, str]:
        """tclean, then (``imaging.drift_pb``) the drift-averaged pb and pbcor, then FITS."""
        run_tclean(ms_path=ms_path, imagename=work_prefix, imaging=imaging, geometry=geometry, datacolumn=datacolumn,
                   vptable=vptable, mask=mask)
        if imaging.drift_pb:
            drift_average_pb(work_prefix, ms_path, telescope=telescope, pblimit=imaging.pblimit)
        return export_fits(work_prefix, target, products, cards)
