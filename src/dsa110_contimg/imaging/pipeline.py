"""Image one group as the workflow does, as named steps:

data column -> image geometry -> (seed MODEL_DATA) -> static beam + self-calibration ->
clean mask -> backend (:data:`.backends.BACKENDS`) -> QA and thumbnail.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import tempfile

from ..calibration.model import model_sources, set_model
from ..msmeta import channel_freqs_hz, phase_centre_rad
from ..provenance import software_versions
from ..settings import Imaging, Telescope, as_plain
from . import qa
from .backends import BACKENDS, Backend
from .beam_equalize import equalize_beam, write_static_beam
from .chan_average import average_factor
from .mask import mask_circles, write_crtf_mask, write_fits_mask
from .params import ImagingError, choose_datacolumn, image_geometry, reference_freq_hz
from .products import product_names, provenance_cards

log = logging.getLogger(__name__)


def image_group(*, ms_path: str, fits_prefix: str, imaging: Imaging, telescope: Telescope, config_hash: str,
                vptable: str, beam_h5: str = "", sky_sources=(), overlay=(), workdir: str | None = None,
                threads: int = 0, calibration: dict | None = None) -> dict:
    """Image ``ms_path`` into ``<fits_prefix>.{image,image.pbcor,pb}[.residual,.psf].fits`` and
    ``<fits_prefix>.png``; return the QA record.

    ``imaging.backend``: ``tclean`` (pb from ``vptable``) or ``wsclean`` (pb from ``beam_h5``).
    ``sky_sources`` (master-catalog :class:`~dsa110_contimg.sky.PointSource` s): with
    ``imaging.static_beam`` and ``beam_h5``, the imager reads a scratch copy of the MS in
    which these sources have the drift-averaged beam (:mod:`.beam_equalize`), and they
    make the catalog clean mask; the MS itself is not changed.  ``overlay``
    (point sources, e.g. the simulator's sky): circles on the thumbnail and the sources
    the seed may put into MODEL_DATA.  ``config_hash``: the configuration's hash (CFGHASH card).
    ``threads``: cores for the static beam and the imager (0 = the backend's declaration).
    ``calibration``: the group's apply sidecar (how it was calibrated: CALPATH, CALGAIN,
    CALGAGE, CALGRADE cards), or None.
    The QA record holds the settings used (``imaging``).
    """
    imaging = _without_pointless_selfcal(imaging, calibration, ms_path)
    backend = BACKENDS[imaging.backend].load()
    if threads:
        backend.threads = int(threads)
    if imaging.backend == "wsclean":
        from .wsclean_backend import MISSING, wsclean_available

        if not wsclean_available():
            raise ImagingError(MISSING)  # before the static beam's minutes of work
    datacol = choose_datacolumn(ms_path, imaging.datacolumn)
    geom = image_geometry(ms_path, imaging=imaging, telescope=telescope)
    seeded = seed_model(ms_path, overlay=overlay, imaging=imaging, telescope=telescope,
                        radius_deg=geom["pb_radius_deg"]) if imaging.seed_min_mjy > 0 else []
    work = tempfile.mkdtemp(prefix=".img.", dir=workdir or os.path.dirname(os.path.abspath(fits_prefix)))
    try:
        image_ms, equalized = _static_beam_step(ms_path, work, datacolumn=datacol, geometry=geom, imaging=imaging,
                                                telescope=telescope, beam_h5=beam_h5, sky_sources=sky_sources,
                                                threads=backend.threads)
        mask, n_mask = _clean_mask_step(work, backend=backend, ms_path=ms_path, geometry=geom, imaging=imaging,
                                        telescope=telescope, sky_sources=sky_sources)
        cards = _header_cards(backend, config_hash=config_hash, ms_path=ms_path, datacolumn=datacol, vptable=vptable,
                              beam_h5=beam_h5, equalized=equalized, n_mask=n_mask, calibration=calibration)
        target = os.path.join(work, "qa") if imaging.skip_fits else fits_prefix
        fits = backend.image(ms_path=image_ms, work_prefix=os.path.join(work, "img"), target=target,
                             imaging=imaging if mask else dataclasses.replace(imaging, nsigma=imaging.nsigma_no_mask),
                             telescope=telescope, geometry=geom, datacolumn="data" if image_ms != ms_path else datacol, products=product_names(imaging),
                             cards=cards, vptable=vptable, beam_h5=beam_h5, mask=mask)
        stats = qa.image_stats(fits["image"], fits["residual"])
        if not imaging.export_residual and not imaging.skip_fits:
            os.unlink(fits.pop("residual"))
        png = qa.thumbnail(fits["image"], fits_prefix + ".png", overlay, os.path.basename(fits_prefix))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"ms": ms_path, "backend": backend.name, "datacolumn": datacol, "geometry": geom, "seeded_sources": seeded,
            "static_beam": equalized, "clean_mask_circles": n_mask, "imaging": as_plain(imaging),
            "fits": {} if imaging.skip_fits else fits, "thumbnail": png, **stats}


def _without_pointless_selfcal(imaging: Imaging, calibration: dict | None, ms_path: str) -> Imaging:
    """``imaging`` with ``selfcal`` off when the group's gains were solved on the group itself
    (age < ``imaging.selfcal_min_gain_age_h``): a transit imaged with its own gains, or field
    gains solved against the same catalog sky.  Self-calibration could only add noise there
    (and costs a CASA solve, ~2 s even on a demo group)."""
    if not (imaging.selfcal and calibration):
        return imaging
    age = float(calibration["gain"]["age_h"])
    if age >= imaging.selfcal_min_gain_age_h:
        return imaging
    log.info("%s: gains solved on this group (%s, %.3f h): no self-calibration", ms_path, calibration["gain"]["source"], age)
    return dataclasses.replace(imaging, selfcal=False)


def _static_beam_step(ms_path: str, work: str, *, datacolumn: str, geometry: dict, imaging: Imaging, telescope: Telescope,
                      beam_h5: str, sky_sources, threads: int) -> tuple[str, dict | None]:
    """(the MS to image, the static-beam QA summary or None): a lean scratch copy whose DATA
    holds ``datacolumn`` with the static beam (and self-calibration) when
    ``imaging.static_beam`` and there are catalog sources and a beam model, else ``ms_path`` itself."""
    factor = average_factor(channel_freqs_hz(ms_path), target_width_mhz=imaging.chan_average_mhz)
    image_ms = os.path.join(work, "static_beam.ms")
    if not (imaging.static_beam and sky_sources and beam_h5):
        if imaging.selfcal or imaging.clean_mask == "catalog":
            log.warning("%s: no static beam (no master catalog sources, no beam model, or static_beam off): "
                        "no self-calibration", ms_path)
        if factor == 1:
            return ms_path, None
        write_static_beam(None, ms_in=ms_path, ms_out=image_ms, datacolumn=datacolumn, chan_factor=factor)
        log.info("%s: imaging a copy with %d channels averaged into one", ms_path, factor)
        return image_ms, None
    equalized = equalize_beam(ms_in=ms_path, ms_out=image_ms, datacolumn=datacolumn, sources=sky_sources, beam_h5=beam_h5,
                              imaging=imaging, telescope=telescope, ref_freq_hz=reference_freq_hz(geometry),
                              half_width_deg=geometry["fov_deg"] / 2, threads=threads, chan_factor=factor)
    if not imaging.drift_pb:
        log.warning("%s: static_beam gives sources the drift-averaged beam but drift_pb is off: pbcor divides "
                    "by the static beam, so off-axis fluxes will be off by up to a few per cent", ms_path)
    return image_ms, equalized


def _clean_mask_step(work: str, *, backend: Backend, ms_path: str, geometry: dict, imaging: Imaging, telescope: Telescope,
                     sky_sources) -> tuple[str, int]:
    """(mask path or "", number of circles): the catalog mask when ``imaging.clean_mask`` is
    ``catalog`` and there are catalog sources, in the backend's format (CRTF or FITS)."""
    if not (imaging.clean_mask == "catalog" and sky_sources):
        return "", 0
    circles = mask_circles(sources=sky_sources, ms_path=ms_path, geometry=geometry, imaging=imaging, telescope=telescope)
    if not circles:
        return "", 0
    path = os.path.join(work, f"mask.{backend.mask_format}")
    if backend.mask_format == "fits":
        write_fits_mask(path, circles=circles, ms_path=ms_path, geometry=geometry)
    else:
        write_crtf_mask(path, circles=circles)
    return path, len(circles)


def _header_cards(backend: Backend, *, config_hash: str, ms_path: str, datacolumn: str, vptable: str, beam_h5: str,
                  equalized: dict | None, n_mask: int, calibration: dict | None = None) -> dict:
    """The FITS cards every product carries: provenance, imager, static beam, self-cal, mask,
    and (``calibration``: the group's apply sidecar) how the group was calibrated."""
    beam_input = {"vptable": vptable, "beam_h5": beam_h5 or ""}[backend.beam_input]
    cards = provenance_cards(config_hash, ms_path, software_versions(), datacolumn, beam_input)
    cards["IMAGER"] = backend.name
    cards["STATBEAM"] = (equalized["n_sources"] if equalized else 0, "catalog sources given a static beam")
    sc = (equalized or {}).get("selfcal")
    cards["SELFCAL"] = (round(sc["phase_rms_deg"], 3) if sc and "phase_rms_deg" in sc else -1.0,
                        "rms self-cal phase (deg); -1 = none")
    cards["CLNMASK"] = (n_mask, "clean mask circles at catalog sources")
    if calibration:
        gain = calibration["gain"]
        cards["CALPATH"] = (calibration["path"], "calibration: transit, field or fallback_*")
        cards["CALGAIN"] = (gain["source"], "gain tables from: transit, field, previous")
        cards["CALGAGE"] = (round(float(gain["age_h"]), 3), "age of the gain tables (h)")
        cards["CALGRADE"] = (gain["grade"], "gain age grade (calibration.age_grades_h)")
    return cards


def seed_model(ms_path: str, *, overlay, imaging: Imaging, telescope: Telescope, radius_deg: float) -> list[str]:
    """MODEL_DATA from the ``overlay`` sources >= ``imaging.seed_min_mjy`` (1.4 GHz catalog flux)
    within ``radius_deg`` of the phase centre; returns their names.

    tclean runs with ``savemodel='none'``, so the seeded MODEL_DATA stays for later use
    (e.g. inspection or self-calibration); tclean's own deconvolution does not read it.
    """
    ra0, dec0 = (math.degrees(a) for a in phase_centre_rad(ms_path))
    srcs = model_sources(None, list(overlay), ra0_deg=ra0, dec0_deg=dec0, radius_deg=radius_deg,
                         min_flux_jy=imaging.seed_min_mjy / 1000.0)
    if srcs:
        set_model(ms_path, srcs, telescope=telescope)
    log.info("seeded MODEL_DATA of %s with %d catalog sources >= %g mJy", ms_path, len(srcs), imaging.seed_min_mjy)
    return [s.name for s in srcs]
