"""Write a static-beam plan (:mod:`.static_beam`) into a scratch copy of the MS.

:func:`equalize_beam` is the entry point: the plan for the MS (drift geometry, H5 beams,
catalog sources, the imaging settings), then :func:`write_static_beam`: a lean copy of
the MS (:func:`lean_copy`: the imaged column as DATA), subtract the beam difference from it (cross-correlations only; flags
kept), and with self-calibration (:func:`.selfcal.selfcal_static_beam`) solve and apply
antenna phases against the static catalog model.  The input MS is never changed.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from casacore import tables

from ..atomic import atomic_path
from ..beam.drift_beam import load_beams
from ..msmeta import channel_freqs_hz, drift_geometry
from ..settings import Imaging, Telescope
from .chan_average import average_channels, create_averaged_ms
from .selfcal import selfcal_static_beam
from .static_beam import StaticBeamPlan, plan_static_beam

log = logging.getLogger(__name__)

COLUMNS = {"corrected": "CORRECTED_DATA", "data": "DATA"}
COLUMN_NAMES = ("DATA", "MODEL_DATA", "CORRECTED_DATA")
"""The visibility columns of an MS (the lean copy keeps one of them, as DATA)."""


def equalize_beam(*, ms_in: str, ms_out: str, datacolumn: str, sources, beam_h5: str, imaging: Imaging,
                  telescope: Telescope, ref_freq_hz: float, half_width_deg: float, rows_per_chunk: int = 20000,
                  threads: int = 1, chan_factor: int = 1) -> dict:
    """Copy ``ms_in`` to ``ms_out`` with the bright catalog ``sources``' beam made static in
    ``datacolumn`` (``corrected`` or ``data``, the column the imager reads); returns the QA
    summary.  ``ref_freq_hz`` (Hz) and ``half_width_deg`` (deg): the image's reference
    frequency and half field; which sources, flat spectra and self-calibration follow
    ``imaging`` (:func:`.static_beam.plan_static_beam`)."""
    plan = plan_static_beam(sources=sources, geometry=drift_geometry(ms_in, location=telescope.location),
                            beams=load_beams(beam_h5), imaging=imaging, ref_freq_hz=ref_freq_hz, half_width_deg=half_width_deg)
    return write_static_beam(plan, ms_in=ms_in, ms_out=ms_out, datacolumn=datacolumn, rows_per_chunk=rows_per_chunk,
                             threads=threads, chan_factor=chan_factor)


def write_static_beam(plan: StaticBeamPlan | None, *, ms_in: str, ms_out: str, datacolumn: str, rows_per_chunk: int = 20000,
                      threads: int = 1, chan_factor: int = 1) -> dict:
    """Write ``ms_out`` (atomically): a lean copy of ``ms_in`` (:func:`lean_copy`) whose DATA
    is ``datacolumn`` of ``ms_in`` with ``plan`` applied -- the column the imager then reads.

    Autocorrelations are left untouched; flags are kept (self-calibration flags the data of
    antennas without a solution).  Rows are processed in chunks of ``rows_per_chunk`` to
    bound memory; the model visibilities are computed on ``threads`` threads.  With
    ``plan.selfcal``, the static catalog model goes to MODEL_DATA for
    CASA gaincal (:func:`.selfcal.selfcal_static_beam`), which leaves the self-calibrated
    data in DATA.  With ``chan_factor`` > 1 the copy has ``chan_factor`` channels averaged
    into one (:mod:`.chan_average`; the beam difference is subtracted before averaging);
    ``plan`` None: the averaged copy alone.  Returns the plan's QA summary with the
    self-calibration record (and ``chan_average``: the factor).
    """
    col = COLUMNS[datacolumn]
    summary = {**plan.qa} if plan is not None else {}
    if "skipped" in summary.get("selfcal", {}):
        log.warning("%s: catalog model too faint (%s): no self-calibration", ms_in, summary["selfcal"]["skipped"])
    selfcal = plan is not None and plan.selfcal
    with atomic_path(ms_out, is_dir=True) as tmp:
        if chan_factor > 1:
            averaged_copy(ms_in, tmp, column=col, factor=chan_factor, plan=plan, rows_per_chunk=rows_per_chunk,
                          threads=threads)
            orig_ms, orig_col = tmp, ORIGINAL
        else:
            lean_copy(ms_in, tmp, column=col, model=selfcal)
            if plan is not None and plan.treated:
                _subtract_in_place(plan, tmp, selfcal=selfcal, rows_per_chunk=rows_per_chunk, threads=threads)
            orig_ms, orig_col = ms_in, col
        if selfcal:
            summary["selfcal"] = selfcal_static_beam(ms_orig=orig_ms, ms_work=tmp, column=orig_col,
                                                     workdir=os.path.dirname(os.path.abspath(ms_out)),
                                                     rows_per_chunk=rows_per_chunk)
    summary["chan_average"] = chan_factor
    if plan is not None:
        n_removed = summary["n_removed_outside_image"]
        log.info("%s: beam made static for %d catalog sources, %d outside the image removed (max apparent >= %g mJy)%s",
                 os.path.basename(ms_in.rstrip("/")), summary["n_sources"] - n_removed, n_removed, summary["min_apparent_mjy"],
                 f"; {chan_factor} channels averaged into one" if chan_factor > 1 else "")
    return summary


def _subtract_in_place(plan: StaticBeamPlan, ms: str, *, selfcal: bool, rows_per_chunk: int, threads: int) -> None:
    """DATA -= the beam difference (cross-correlations); with ``selfcal`` MODEL_DATA := the static model."""
    with tables.table(ms, readonly=False, ack=False) as t:
        if t.getcol("DATA", 0, 1).shape[-1] not in (1, 2):
            raise ValueError(f"{ms}: static beam handles XX/YY data only")
        for r0 in range(0, t.nrows(), rows_per_chunk):
            nr = min(rows_per_chunk, t.nrows() - r0)
            cross = (t.getcol("ANTENNA1", r0, nr) != t.getcol("ANTENNA2", r0, nr))[:, None, None]
            uvw, tm = t.getcol("UVW", r0, nr), t.getcol("TIME", r0, nr)
            d = t.getcol("DATA", r0, nr)  # (Nrow, Nchan, Npol)
            d -= np.where(cross, plan.beam_difference_vis(uvw, tm, threads=threads)[:, :, None], 0).astype(d.dtype)
            t.putcol("DATA", d, r0, nr)
            if selfcal:
                model = np.repeat(plan.static_model_vis(uvw, tm, threads=threads)[:, :, None], d.shape[-1], axis=2)
                t.putcol("MODEL_DATA", model.astype(d.dtype), r0, nr)


ORIGINAL = "ORIGINAL_DATA"
"""The averaged copy's column holding the averaged data before the static beam (self-calibration divides it)."""


def averaged_copy(ms_in: str, ms_out: str, *, column: str, factor: int, plan: StaticBeamPlan | None,
                  rows_per_chunk: int, threads: int) -> None:
    """Write ``ms_out`` with ``factor`` channels of ``column`` averaged into one as DATA
    (:func:`.chan_average.average_channels`; flags and WEIGHT_SPECTRUM to match).  With
    ``plan``, its beam difference is subtracted at the full resolution first; with
    ``plan.selfcal`` also MODEL_DATA (the averaged static model) and :data:`ORIGINAL`
    (the averaged data without the subtraction, which self-calibration divides)."""
    selfcal = plan is not None and plan.selfcal
    treat = plan is not None and bool(plan.treated)
    extra = (("MODEL_DATA", ORIGINAL) if selfcal else ())
    create_averaged_ms(ms_in, ms_out, factor=factor, columns=("DATA", *extra))
    avg_freqs = channel_freqs_hz(ms_out)
    with tables.table(ms_in, ack=False) as src, tables.table(ms_out, readonly=False, ack=False) as t:
        if src.getcell("FLAG", 0).shape[-1] not in (1, 2) and treat:
            raise ValueError(f"{ms_in}: static beam handles XX/YY data only")
        has_ws = "WEIGHT_SPECTRUM" in src.colnames()
        for r0 in range(0, src.nrows(), rows_per_chunk):
            nr = min(rows_per_chunk, src.nrows() - r0)
            d, flag = src.getcol(column, r0, nr), src.getcol("FLAG", r0, nr)
            w = src.getcol("WEIGHT_SPECTRUM", r0, nr) if has_ws else src.getcol("WEIGHT", r0, nr)[:, None, :]
            if treat:
                cross = (src.getcol("ANTENNA1", r0, nr) != src.getcol("ANTENNA2", r0, nr))[:, None, None]
                uvw, tm = src.getcol("UVW", r0, nr), src.getcol("TIME", r0, nr)
                if selfcal:
                    # the model at the averaged channels' frequencies: it differs from the
                    # average of the fine channels' by the smearing (< 0.3%), immaterial to a phase solve
                    orig, f, ws = average_channels(d, flag, w, factor, threads=threads)
                    t.putcol(ORIGINAL, orig, r0, nr)
                    model = plan.static_model_vis(uvw, tm, threads=threads, freqs_hz=avg_freqs)[:, :, None]
                    t.putcol("MODEL_DATA", np.repeat(model, d.shape[-1], axis=2).astype(d.dtype), r0, nr)
                d -= np.where(cross, plan.beam_difference_vis(uvw, tm, threads=threads)[:, :, None], 0).astype(d.dtype)
            data, f, ws = average_channels(d, flag, w, factor, threads=threads)
            t.putcol("DATA", data, r0, nr)
            t.putcol("FLAG", f, r0, nr)
            t.putcol("WEIGHT_SPECTRUM", ws, r0, nr)


def lean_copy(ms_in: str, ms_out: str, *, column: str, model: bool) -> None:
    """Copy ``ms_in`` to ``ms_out`` with one visibility column: DATA := ``column`` of ``ms_in``
    (and, with ``model``, an empty MODEL_DATA of the same layout); every other main-table
    column (UVW, FLAG, WEIGHT, WEIGHT_SPECTRUM, ...) and every subtable as they are.  A
    full-size MS holds four visibility columns (DATA, MODEL_DATA, CORRECTED_DATA: 1.35 GB
    each); the imager needs one."""
    with tables.table(ms_in, ack=False) as t:
        keep = [c for c in t.colnames() if c not in COLUMN_NAMES]
        if column not in t.colnames():
            raise ValueError(f"{ms_in}: has no {column} column to image")
        tables.taql(f"SELECT {', '.join(keep)}, {column} AS DATA FROM $t GIVING '{ms_out}' AS PLAIN").close()
    if model:
        with tables.table(ms_out, readonly=False, ack=False) as t:
            desc = t.getcoldesc("DATA")
            dminfo = {**t.getdminfo("DATA"), "NAME": "TiledMODEL_DATA"}
            t.addcols(tables.maketabdesc([tables.makecoldesc("MODEL_DATA", desc)]), dminfo)
