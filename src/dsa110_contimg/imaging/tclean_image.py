"""Image one calibrated group with CASA tclean and export FITS.

Defaults: ``gridder='wproject'`` with an explicit ``wprojplanes`` (``-1`` crashes on
these MS), Briggs robust 0.5, Hogbom (or multiscale, or ``mtmfs`` with ``nterms`` Taylor
terms), ``pblimit=0.25``, primary-beam
correction from the VP table, ``savemodel='none'``.  ``cell`` defaults to a third of
the synthesized beam (lambda_min / B_max); ``imsize`` defaults to the smallest even
size whose field holds the primary beam down to ``pblimit`` at the lowest frequency.
``quick`` caps imsize (enlarging the cell so the beam still fits) and niter.

Wideband and drift effect: across the 187 MHz band the primary beam narrows by 13%, and
during the 5-minute drift it changes by up to +-20% towards an off-axis source; single-term
Hogbom clean cannot model either, and leaves a floor that moves fainter sources' peaks.
The workflow removes both for catalog sources before tclean (:mod:`.beam_equalize`).
``mtmfs`` (two Taylor terms) diverges on the demo fields and takes ~3x longer; it is an
option, not the default.  ``mask`` (a CRTF file) restricts cleaning to catalog sources
(:func:`.pipeline.write_catalog_mask`).

Primary beam: tclean's ``.pb`` is the VP table's beam at the phase centre (the meridian
at mid-time).  A drift-scan dish, though, points at the meridian of each integration:
during a 5-minute group its pointing slides ~1.3 deg of RA through the phase centre, so
the image's true response is the time average of the static beam shifted along RA,
about 1.8% lower on axis.  :func:`drift_average_pb` forms that average from tclean's
``.pb``; the exported ``.pb.fits`` and ``.image.pbcor.fits`` use it (tclean's own static
beam is kept as ``.pb.static`` in the work directory only).
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import shutil

import numpy as np
from casacore import tables

from ..atomic import atomic_path
from ..casa_env import configure_casa
from ..geometry import C_M_S

log = logging.getLogger(__name__)

PRODUCTS = ("image", "image.pbcor", "pb", "residual", "psf")


class ImagingError(RuntimeError):
    """The MS or the imaging parameters cannot make a valid image; the message says why."""


def pb_radius_deg(freq_hz: float, pblimit: float, dish_m: float) -> float:
    """Radius (deg) where the Airy power pattern falls to ``pblimit``."""
    from scipy.optimize import brentq  # noqa: PLC0415
    from scipy.special import j1  # noqa: PLC0415

    x = brentq(lambda x: (2 * j1(x) / x) ** 2 - pblimit, 1e-6, 3.83)
    return math.degrees(math.asin(x * C_M_S / (math.pi * dish_m * freq_hz)))


def choose_datacolumn(ms_path: str, requested: str = "auto") -> str:
    """'corrected' when CORRECTED_DATA holds calibrated data, else 'data' (``auto``).

    A CORRECTED_DATA column that is all zero where unflagged is an error, not a fallback.
    """
    with tables.table(ms_path, ack=False) as t:
        cols = t.colnames()
        if requested == "data" or ("CORRECTED_DATA" not in cols and requested == "auto"):
            return "data"
        if "CORRECTED_DATA" not in cols:
            raise ImagingError(f"{ms_path}: has no CORRECTED_DATA column (imaging.datacolumn = corrected)")
        c, f = t.getcol("CORRECTED_DATA"), t.getcol("FLAG")
    good = c[~f]
    if good.size == 0:
        raise ImagingError(f"{ms_path}: every visibility is flagged; nothing to image")
    if not np.any(good != 0):
        raise ImagingError(f"{ms_path}: CORRECTED_DATA is all zero where unflagged; re-run the calibration (snakemake calibrated) "
                           "or set imaging.datacolumn: data")
    if not np.all(np.isfinite(good)):
        raise ImagingError(f"{ms_path}: CORRECTED_DATA holds non-finite values where unflagged")
    return "corrected"


def image_geometry(ms_path: str, icfg: dict, dish_m: float) -> dict:
    """cell (arcsec), imsize, frequencies and the beam radius it must hold; checks the request."""
    with tables.table(ms_path, ack=False) as t:
        uvw = t.getcol("UVW")
    with tables.table(f"{ms_path}::SPECTRAL_WINDOW", ack=False) as t:
        f = t.getcol("CHAN_FREQ")[0]
    bmax = float(np.max(np.hypot(uvw[:, 0], uvw[:, 1])))
    beam_arcsec = math.degrees(C_M_S / f.max() / bmax) * 3600
    r_pb = pb_radius_deg(f.min(), icfg["pblimit"], dish_m)
    cell = icfg["cell_arcsec"] or beam_arcsec / icfg["pixels_per_beam"]
    need = 2 * r_pb * 3600 / cell
    imsize = icfg["imsize"] or int(2 * math.ceil(need * 1.05 / 2))
    niter = icfg["niter"]
    if icfg["quick"]:
        if imsize > icfg["quick_imsize"]:
            cell *= imsize / icfg["quick_imsize"]
            imsize = icfg["quick_imsize"]
        niter = min(niter, icfg["quick_niter"])
    fov_deg = imsize * cell / 3600
    if fov_deg < 2 * r_pb:
        raise ImagingError(
            f"{ms_path}: imsize {imsize} x cell {cell:.2f} arcsec = {fov_deg:.2f} deg cannot hold the primary beam "
            f"down to pblimit {icfg['pblimit']} ({2 * r_pb:.2f} deg across at {f.min() / 1e6:.0f} MHz); "
            "raise imaging.imsize or imaging.cell_arcsec, or leave them 0 for automatic values"
        )
    wmax_lambda = float(np.max(np.abs(uvw[:, 2]))) * f.max() / C_M_S
    nw = icfg["wprojplanes"] or w_planes(wmax_lambda, math.radians(fov_deg / 2), icfg["wproj_phase_tol_rad"])
    return {"cell_arcsec": cell, "imsize": imsize, "niter": niter, "beam_arcsec": beam_arcsec, "pb_radius_deg": r_pb,
            "fov_deg": fov_deg, "freq_min_hz": float(f.min()), "freq_max_hz": float(f.max()),
            "wmax_lambda": wmax_lambda, "wprojplanes": int(nw)}


def w_planes(wmax_lambda: float, radius_rad: float, tol_rad: float) -> int:
    """Number of w-projection planes keeping the w-term phase step below ``tol_rad``.

    The w-term phase at angular radius theta is 2 pi w (sqrt(1 - theta^2) - 1) ~ -pi w theta^2
    (w in wavelengths); over |w| <= wmax it spans pi wmax theta^2, cut into steps of at
    most ``tol_rad``.  Clipped to [8, 512].  Too few planes lose flux far from the phase
    centre (16 planes on the 4 deg demo field: peaks ~1.5% low at 1 deg).
    """
    return int(min(512, max(8, math.ceil(math.pi * wmax_lambda * radius_rad**2 / tol_rad))))


def run_tclean(ms_path: str, imagename: str, icfg: dict, geom: dict, datacolumn: str, vptable: str, mask: str = "") -> None:
    configure_casa()
    from casatasks import tclean  # noqa: PLC0415

    ms_path, imagename, vptable = (os.path.abspath(p) for p in (ms_path, imagename, vptable))
    for p in glob.glob(imagename + ".*"):
        shutil.rmtree(p, ignore_errors=True)
    cwd = os.getcwd()
    os.chdir(os.path.dirname(os.path.abspath(imagename)))  # tclean drops casa-*.log files in the cwd
    try:
        tclean(
            vis=ms_path, imagename=imagename, datacolumn=datacolumn, specmode="mfs", stokes="I",
            imsize=[geom["imsize"], geom["imsize"]], cell=f"{geom['cell_arcsec']:.4f}arcsec",
            gridder="wproject", wprojplanes=geom["wprojplanes"], vptable=vptable,
            deconvolver=icfg["deconvolver"], scales=icfg["scales"] if icfg["deconvolver"] == "multiscale" else [],
            nterms=icfg["nterms"] if icfg["deconvolver"] == "mtmfs" else 1,
            weighting="briggs", robust=icfg["robust"], niter=geom["niter"], threshold=icfg["threshold"], nsigma=icfg.get("nsigma", 0.0),
            pblimit=icfg["pblimit"], pbcor=True, savemodel="none", interactive=False,
            usemask="user" if mask else icfg.get("usemask", "pb"), mask=mask,
        )
    finally:
        os.chdir(cwd)
    if icfg["deconvolver"] == "mtmfs":  # Taylor term 0 is the image at the reference frequency
        for prod in ("image", "image.pbcor", "pb", "residual", "psf", "model"):
            tt0 = {"image.pbcor": "image.tt0.pbcor"}.get(prod, f"{prod}.tt0")
            if os.path.isdir(f"{imagename}.{tt0}"):
                os.rename(f"{imagename}.{tt0}", f"{imagename}.{prod}")
    if not os.path.isdir(imagename + ".image"):
        raise ImagingError(f"tclean wrote no {imagename}.image; see the CASA log in the rule's log")


def export_fits(imagename: str, fits_prefix: str, products: list[str], header_extra: dict) -> dict[str, str]:
    """exportfits each product to ``<fits_prefix>.<product>.fits`` (atomically), adding header cards."""
    configure_casa()
    from astropy.io import fits  # noqa: PLC0415
    from casatasks import exportfits  # noqa: PLC0415

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


def provenance_cards(config_hash: str, ms_path: str, versions: dict, datacolumn: str, vptable: str) -> dict:
    """FITS header cards tracing the image back to its inputs (8-char keys, <= 68-char values)."""
    return {
        "ORIGIN": "dsa110_contimg",
        "PIPEVER": versions.get("dsa110-contimg", "?"),
        "CASAVER": versions.get("casatools", "?"),
        "CFGHASH": config_hash[:16],
        "INPUTMS": os.path.basename(ms_path.rstrip("/"))[:68],
        "DATACOL": datacolumn,
        "VPTABLE": os.path.basename(vptable)[:68],
    }


def write_json(path: str, obj: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, default=float)


def pointing_offsets_ra(ms_path: str, tel: dict) -> np.ndarray:
    """RA offsets (radians) of the drift-scan pointing (meridian) at each integration from the
    phase centre (meridian at mid-time)."""
    from .. import astrometry  # noqa: PLC0415

    loc = astrometry.location(tel["lon_deg"], tel["lat_deg"], tel["height_m"])
    with tables.table(ms_path, ack=False) as t:
        times = np.unique(t.getcol("TIME")) / 86400.0 + 2400000.5
    lst = astrometry.last_rad(times, loc)
    return np.angle(np.exp(1j * (lst - 0.5 * (lst[0] + lst[-1]))))


def drift_shift_pixels(dra_rad, dec0_rad: float, inc_x_rad: float) -> np.ndarray:
    """Pixel shifts along the RA axis for RA offsets ``dra_rad`` at declination ``dec0_rad``."""
    return np.asarray(dra_rad) * math.cos(dec0_rad) / inc_x_rad


def drift_average_pb(imagename: str, ms_path: str, tel: dict, pblimit: float) -> None:
    """Replace ``<imagename>.pb`` and ``.image.pbcor`` by their drift-scan versions (in place).

    pb_eff(x, y) = mean over integrations t of pb_static(x - dx(t), y), with dx(t) the
    pointing offset (pixels along RA) of the meridian at t from the phase centre.
    The pbcor image is image / pb_eff where pb_eff >= pblimit, else NaN (masked).
    """
    from casatools import image  # noqa: PLC0415
    from scipy import ndimage  # noqa: PLC0415

    dra = pointing_offsets_ra(ms_path, tel)
    ia = image()
    ia.open(imagename + ".pb")
    try:
        pb = ia.getchunk()
        cs = ia.coordsys()
        inc = cs.increment()["numeric"]  # rad/pixel; x increment negative (RA increases to the left)
        dec0 = cs.referencevalue()["numeric"][1]
        cs.done()
        static = np.where(np.isfinite(pb[:, :, 0, 0]), pb[:, :, 0, 0], 0.0)
        # CASA zeroes the pb below pblimit; rebuild the tail from the VP would need the VP: the
        # shifts are small (<0.4 deg) so only the edge within that distance is affected
        eff = np.zeros_like(static)
        for sx in drift_shift_pixels(dra, dec0, inc[0]):
            eff += ndimage.shift(static, (sx, 0.0), order=1, mode="constant", cval=0.0)
        eff /= len(dra)
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
        with np.errstate(divide="ignore", invalid="ignore"):
            cor = np.where(eff[:, :, None, None] >= pblimit, img / eff[:, :, None, None], np.nan)
        ia.putchunk(cor.astype(np.float32))
        ia.calcmask(f'!isnan("{imagename}.image.pbcor")', name="pbmask")
    finally:
        ia.close()
