"""Write a static-beam plan (:mod:`.static_beam`) into a scratch copy of the MS.

:func:`equalize_beam` is the entry point: the plan for the MS (drift geometry, H5 beams,
catalog sources, the imaging settings), then :func:`write_static_beam`: copy the MS,
subtract the beam difference from the imaged column (cross-correlations only; flags
kept), and with self-calibration (:func:`.selfcal.selfcal_static_beam`) solve and apply
antenna phases against the static catalog model.  The input MS is never changed.
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
from casacore import tables

from ..atomic import atomic_path
from ..msmeta import drift_geometry
from ..settings import Imaging, Telescope
from .selfcal import selfcal_static_beam
from .static_beam import StaticBeamPlan, load_beams, plan_static_beam

log = logging.getLogger(__name__)

COLUMNS = {"corrected": "CORRECTED_DATA", "data": "DATA"}


def equalize_beam(*, ms_in: str, ms_out: str, datacolumn: str, sources, beam_h5: str, imaging: Imaging,
                  telescope: Telescope, ref_freq_hz: float, half_width_deg: float, rows_per_chunk: int = 20000) -> dict:
    """Copy ``ms_in`` to ``ms_out`` with the bright catalog ``sources``' beam made static in
    ``datacolumn`` (``corrected`` or ``data``, the column the imager reads); returns the QA
    summary.  ``ref_freq_hz`` (Hz) and ``half_width_deg`` (deg): the image's reference
    frequency and half field; which sources, flat spectra and self-calibration follow
    ``imaging`` (:func:`.static_beam.plan_static_beam`)."""
    plan = plan_static_beam(sources=sources, geometry=drift_geometry(ms_in, location=telescope.location),
                            beams=load_beams(beam_h5), imaging=imaging, ref_freq_hz=ref_freq_hz, half_width_deg=half_width_deg)
    return write_static_beam(plan, ms_in=ms_in, ms_out=ms_out, datacolumn=datacolumn, rows_per_chunk=rows_per_chunk)


def write_static_beam(plan: StaticBeamPlan, *, ms_in: str, ms_out: str, datacolumn: str, rows_per_chunk: int = 20000) -> dict:
    """Copy ``ms_in`` to ``ms_out`` (atomically) and apply ``plan`` to ``datacolumn`` in the copy.

    Autocorrelations are left untouched; flags are kept (self-calibration flags the data of
    antennas without a solution).  Rows are processed in chunks of ``rows_per_chunk`` to
    bound memory.  With ``plan.selfcal``, the equalized data go to DATA and the static
    catalog model to MODEL_DATA for CASA gaincal (:func:`.selfcal.selfcal_static_beam`).
    Returns the plan's QA summary with the self-calibration record.
    """
    col = COLUMNS[datacolumn]
    summary = {**plan.qa}
    if "skipped" in summary.get("selfcal", {}):
        log.warning("%s: catalog model too faint (%s): no self-calibration", ms_in, summary["selfcal"]["skipped"])
    with atomic_path(ms_out, is_dir=True) as tmp:
        shutil.copytree(ms_in, tmp, symlinks=True)
        if plan.treated:
            with tables.table(tmp, readonly=False, ack=False) as t:
                if t.getcol(col, 0, 1).shape[-1] not in (1, 2):
                    raise ValueError(f"{ms_in}: static beam handles XX/YY data only")
                # the equalized data -- the product, or (with self-cal) gaincal's DATA
                for r0 in range(0, t.nrows(), rows_per_chunk):
                    nr = min(rows_per_chunk, t.nrows() - r0)
                    cross = (t.getcol("ANTENNA1", r0, nr) != t.getcol("ANTENNA2", r0, nr))[:, None, None]
                    uvw, tm = t.getcol("UVW", r0, nr), t.getcol("TIME", r0, nr)
                    d = t.getcol(col, r0, nr)  # (Nrow, Nchan, Npol)
                    d -= np.where(cross, plan.beam_difference_vis(uvw, tm)[:, :, None], 0).astype(d.dtype)
                    if plan.selfcal:
                        t.putcol("DATA", d, r0, nr)
                        model = plan.static_model_vis(uvw, tm)[:, :, None] * np.ones(d.shape[-1])
                        t.putcol("MODEL_DATA", model.astype(d.dtype), r0, nr)
                    else:
                        t.putcol(col, d, r0, nr)
            if plan.selfcal:
                summary["selfcal"] = selfcal_static_beam(ms_orig=ms_in, ms_work=tmp, column=col,
                                                         workdir=os.path.dirname(os.path.abspath(ms_out)),
                                                         rows_per_chunk=rows_per_chunk)
    n_removed = summary["n_removed_outside_image"]
    log.info("%s: beam made static for %d catalog sources, %d outside the image removed (max apparent >= %g mJy)",
             os.path.basename(ms_in.rstrip("/")), summary["n_sources"] - n_removed, n_removed, summary["min_apparent_mjy"])
    return summary
