"""Image one group as the workflow does: checks, tclean or wsclean, FITS with provenance, QA."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import numpy as np

from ..atomic import atomic_path
from ..provenance import config_hash, software_versions
from . import qa
from .tclean_image import (
    choose_datacolumn,
    drift_average_pb,
    export_fits,
    image_geometry,
    pointing_offsets_ra,
    provenance_cards,
    run_tclean,
)

log = logging.getLogger(__name__)


def image_group(ms_path: str, fits_prefix: str, config: dict, vptable: str, catalog=None, workdir: str | None = None,
                beam_h5: str | None = None, sky_sources: list | None = None) -> dict:
    """Image ``ms_path`` into ``<fits_prefix>.{image,image.pbcor,pb}[.residual,.psf].fits``; return QA.

    ``imaging.backend``: ``tclean`` (pb from the VP table) or ``wsclean`` (pb from ``beam_h5``).
    ``sky_sources`` (:class:`~.beam_equalize.SkySource`, from the master catalog): with
    ``imaging.static_beam`` and ``beam_h5``, the imager reads a scratch copy of the MS in
    which these sources have the drift-averaged beam (:mod:`.beam_equalize`); the MS
    itself is not changed.
    """
    icfg, tel = config["imaging"], config["telescope"]
    datacol = choose_datacolumn(ms_path, icfg["datacolumn"])
    geom = image_geometry(ms_path, icfg, tel["dish_diameter_m"])
    seeded = seed_model(ms_path, catalog or [], icfg["seed_min_mjy"], geom["pb_radius_deg"], tel) if icfg["seed_min_mjy"] > 0 else []
    work = tempfile.mkdtemp(prefix=".img.", dir=workdir or os.path.dirname(os.path.abspath(fits_prefix)))
    backend = icfg["backend"]
    equalized, n_mask = None, 0
    try:
        image_ms = ms_path
        if icfg["static_beam"] and sky_sources and beam_h5:
            from .beam_equalize import equalize_beam  # noqa: PLC0415

            image_ms = os.path.join(work, "static_beam.ms")
            equalized = equalize_beam(ms_path, image_ms, datacol, sky_sources, beam_h5, tel,
                                      0.5 * (geom["freq_min_hz"] + geom["freq_max_hz"]), geom["fov_deg"] / 2,
                                      icfg["static_beam_min_mjy"], icfg["static_beam_max_radius_deg"],
                                      selfcal=icfg["selfcal"], selfcal_min_model_jy=icfg["selfcal_min_model_mjy"] / 1e3,
                                      flat_spectrum=icfg["flat_spectrum"], flat_min_mjy=icfg["flat_spectrum_min_mjy"])
            if not icfg["drift_pb"]:
                log.warning("%s: static_beam gives sources the drift-averaged beam but drift_pb is off: pbcor divides "
                            "by the static beam, so off-axis fluxes will be off by up to a few per cent", ms_path)
        elif icfg["selfcal"] or icfg["clean_mask"] == "catalog":
            log.warning("%s: no static beam (no master catalog sources, no beam model, or static_beam off): no self-calibration", ms_path)
        cards = provenance_cards(config_hash(config), ms_path, software_versions(), datacol,
                                 vptable if backend == "tclean" else (beam_h5 or ""))
        cards["IMAGER"] = backend
        cards["STATBEAM"] = (equalized["n_sources"] if equalized else 0, "catalog sources given a static beam")
        sc = (equalized or {}).get("selfcal")
        cards["SELFCAL"] = (round(sc["phase_rms_deg"], 3) if sc and "phase_rms_deg" in sc else -1.0,
                            "rms self-cal phase (deg); -1 = none")
        products = ["image", "image.pbcor", "pb", "residual"] + (["psf"] if icfg["export_psf"] else [])
        unmasked = {**icfg, "nsigma": icfg["nsigma_no_mask"]}  # cleaning without a catalog mask (WSClean has none)
        target = os.path.join(work, "qa") if icfg["skip_fits"] else fits_prefix
        if backend == "tclean":
            imagename = os.path.join(work, "img")
            mask = ""
            if icfg["clean_mask"] == "catalog" and sky_sources:
                mask = os.path.join(work, "mask.crtf")
                n_mask = write_catalog_mask(mask, sky_sources, ms_path, geom, icfg["mask_min_mjy"],
                                            icfg["mask_radius_beams"] * geom["beam_arcsec"], tel["dish_diameter_m"])
                if not n_mask:
                    mask = ""
                cards["CLNMASK"] = (n_mask, "clean mask circles at catalog sources")
            run_tclean(image_ms, imagename, icfg if mask else unmasked, geom, datacol, vptable, mask)
            if icfg["drift_pb"]:
                drift_average_pb(imagename, ms_path, tel, icfg["pblimit"])
            fits = export_fits(imagename, target, products, cards)
        else:
            fits = _wsclean_products(image_ms, os.path.join(work, "ws"), target, unmasked, geom, datacol, tel, beam_h5, products, cards)
        stats = qa.image_stats(fits["image"], fits["residual"])
        if not icfg["export_residual"] and not icfg["skip_fits"]:
            os.unlink(fits.pop("residual"))
        png = fits_prefix + ".png"
        qa.thumbnail(fits["image"], png, catalog, os.path.basename(fits_prefix))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"ms": ms_path, "backend": backend, "datacolumn": datacol, "geometry": geom, "seeded_sources": seeded,
            "static_beam": equalized, "clean_mask_circles": n_mask,
            "fits": {} if icfg["skip_fits"] else fits, "thumbnail": png, **stats}


def _wsclean_products(ms_path, ws_prefix, target, icfg, geom, datacol, tel, beam_h5, products, cards) -> dict[str, str]:
    from astropy.io import fits as pyfits  # noqa: PLC0415

    from .wsclean_image import model_pb_on_image, run_wsclean  # noqa: PLC0415

    if not beam_h5:
        from .tclean_image import ImagingError  # noqa: PLC0415

        raise ImagingError("the wsclean backend needs the H5 beam model (imaging.beam_h5)")
    raw = run_wsclean(ms_path, ws_prefix, icfg, geom, datacol)
    dra = pointing_offsets_ra(ms_path, tel) if icfg["drift_pb"] else None
    pb = model_pb_on_image(raw["image"], beam_h5, dra)
    with pyfits.open(raw["image"]) as hd:
        img, hdr = hd[0].data, hd[0].header
        beam = {k: hdr[k] for k in ("BMAJ", "BMIN", "BPA")}
    with np.errstate(divide="ignore", invalid="ignore"):
        pbcor = np.where(pb >= icfg["pblimit"], img / pb, np.nan)
    arrays = {"image": img, "image.pbcor": pbcor, "pb": np.where(pb >= icfg["pblimit"], pb, np.nan)[None, None] * np.ones_like(img)}
    for extra in ("residual", "psf"):
        with pyfits.open(raw[extra]) as hd:
            arrays[extra] = hd[0].data
    out = {}
    for prod in products:
        dst = f"{target}.{prod}.fits"
        h = hdr.copy()
        h.update(cards)
        h.update(beam)
        if prod == "pb":
            h["BUNIT"] = ""
        h["BUNIT"] = "Jy/beam" if prod != "pb" else ""
        with atomic_path(dst) as tmp:
            pyfits.PrimaryHDU(np.asarray(arrays[prod], dtype=np.float32), h).writeto(tmp)
        out[prod] = dst
    return out


def seed_model(ms_path: str, catalog: list, min_mjy: float, radius_deg: float, tel: dict) -> list[str]:
    """MODEL_DATA from catalog sources >= ``min_mjy`` within ``radius_deg`` of the phase centre.

    ``catalog`` rows: (name, ra_deg, dec_deg[, flux_mjy[, alpha]]); alpha defaults to -0.7.
    tclean runs with ``savemodel='none'``, so the seeded MODEL_DATA stays for later use
    (e.g. inspection or self-calibration); tclean's own deconvolution does not read it.
    """
    from casacore import tables  # noqa: PLC0415

    from ..calibration.calibrators import Calibrator  # noqa: PLC0415
    from ..calibration.model import model_sources, set_model  # noqa: PLC0415

    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        ra0, dec0 = np.degrees(t.getcol("PHASE_DIR")[0, 0])
    sky = [Calibrator(r[0], r[1], r[2], r[3] / 1000.0, r[4] if len(r) > 4 else -0.7) for r in catalog if len(r) > 3]
    srcs = model_sources(None, sky, float(ra0), float(dec0), radius_deg, min_mjy / 1000.0)
    if srcs:
        set_model(ms_path, srcs, tel)
    log.info("seeded MODEL_DATA of %s with %d catalog sources >= %g mJy", ms_path, len(srcs), min_mjy)
    return [s.name for s in srcs]


def write_catalog_mask(path: str, sources: list, ms_path: str, geom: dict, min_mjy: float, radius_arcsec: float,
                       dish_m: float) -> int:
    """CRTF clean mask: a circle of ``radius_arcsec`` at every catalog source within the image
    radius whose 1.4 GHz catalog flux times the Airy beam of a ``dish_m`` dish at its distance
    from the phase centre reaches ``min_mjy``.  Returns the number of circles.

    Cleaning only there keeps CLEAN from placing components on noise peaks, which on a
    5-minute snapshot of a sparse array takes flux from real sources (CLEAN bias, ~1 sigma
    per source on the demo without a mask)."""
    import math  # noqa: PLC0415

    from casacore import tables  # noqa: PLC0415

    from ..geometry import airy_power, angular_separation  # noqa: PLC0415

    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        ra0, dec0 = t.getcol("PHASE_DIR")[0, 0]
    lines = ["#CRTFv0"]
    for s in sources:
        sep = float(angular_separation(math.radians(s.ra_deg), math.radians(s.dec_deg), ra0, dec0))
        if math.degrees(sep) > geom["fov_deg"] / 2 or s.flux_jy * 1e3 * float(airy_power(sep, 1.4e9, dish_m)) < min_mjy:
            continue
        lines.append(f"circle [[{s.ra_deg:.6f}deg, {s.dec_deg:.6f}deg], {radius_arcsec:.1f}arcsec]")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return len(lines) - 1
