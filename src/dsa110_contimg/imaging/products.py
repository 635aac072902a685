"""The image products every backend returns, their provenance header cards, and the QA JSON.

Products (FITS, one per name): ``image`` (restored, Jy/beam), ``image.pbcor`` (divided by
the drift-averaged primary beam where it reaches ``pblimit``, NaN elsewhere), ``pb``,
``residual`` and optionally ``psf``; written as ``<prefix>.<product>.fits``.  Every
product carries the provenance cards of :func:`provenance_cards` plus the cards the
workflow adds (IMAGER, STATBEAM, SELFCAL, CLNMASK) and the restoring beam (BMAJ/BMIN/BPA).
"""

from __future__ import annotations

import os

from ..settings import Imaging

PRODUCTS = ("image", "image.pbcor", "pb", "residual", "psf")


def product_names(imaging: Imaging) -> list[str]:
    """The products to write: image, image.pbcor, pb, residual (+ psf with ``imaging.export_psf``)."""
    return ["image", "image.pbcor", "pb", "residual"] + (["psf"] if imaging.export_psf else [])


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

