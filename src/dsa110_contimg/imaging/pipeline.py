"""Image one group as the workflow does: checks, tclean, FITS with provenance, QA."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from ..provenance import config_hash, software_versions
from . import qa
from .tclean_image import choose_datacolumn, drift_average_pb, export_fits, image_geometry, provenance_cards, run_tclean

log = logging.getLogger(__name__)


def image_group(ms_path: str, fits_prefix: str, config: dict, vptable: str, catalog=None, workdir: str | None = None) -> dict:
    """tclean ``ms_path`` into ``<fits_prefix>.{image,image.pbcor,pb}[.residual,.psf].fits``; return QA."""
    icfg, tel = config["imaging"], config["telescope"]
    datacol = choose_datacolumn(ms_path, icfg["datacolumn"])
    geom = image_geometry(ms_path, icfg, tel["dish_diameter_m"])
    work = tempfile.mkdtemp(prefix=".img.", dir=workdir or os.path.dirname(os.path.abspath(fits_prefix)))
    try:
        imagename = os.path.join(work, "img")
        run_tclean(ms_path, imagename, icfg, geom, datacol, vptable)
        if icfg["drift_pb"]:
            drift_average_pb(imagename, ms_path, tel, icfg["pblimit"])
        products = ["image", "image.pbcor", "pb", "residual"] + (["psf"] if icfg["export_psf"] else [])
        cards = provenance_cards(config_hash(config), ms_path, software_versions(), datacol, vptable)
        fits = {} if icfg["skip_fits"] else export_fits(imagename, fits_prefix, products, cards)
        if icfg["skip_fits"]:  # QA still needs FITS: write them to the work dir only
            fits = export_fits(imagename, os.path.join(work, "qa"), ["image", "residual"], cards)
        stats = qa.image_stats(fits["image"], fits["residual"])
        if not icfg["export_residual"] and not icfg["skip_fits"]:
            os.unlink(fits.pop("residual"))
        png = fits_prefix + ".png"
        qa.thumbnail(fits["image"] if "image" in fits else fits_prefix, png, catalog, os.path.basename(fits_prefix))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"ms": ms_path, "datacolumn": datacol, "geometry": geom, "fits": {k: v for k, v in fits.items() if not v.startswith(work)},
            "thumbnail": png, **stats}
