"""Gains solved on a field group against the catalog sky (no calibrator in the beam).

DSA-110 stares at the meridian; a group hours from the day's calibrator transit still
has the transit's delays (K) and bandpass (B), valid for a day, but its antenna gains
have drifted (phases by tens of degrees over hours, amplitudes by a few per cent).  So,
as the seed's design does every hour, the gains are solved on the group itself:

1. MODEL_DATA = the master catalog's sources as this group sees them:
   sum_s S_s(nu) A_s(t, nu) K_s, with A_s the H5 beam model's power pattern towards the
   source at each integration and channel (the drift through the beam) and K_s the
   fringe (:func:`dsa110_contimg.kernels.fringe_sum`, CASA ft's convention).  A source
   enters when its flux times its peak beam gain over the group reaches
   ``model_min_mjy`` and it lies within ``model_radius_deg`` of the phase centre.
2. With K, B and the nearest transit's G applied: a phase solve (``phase_solint``),
   then, with ``amplitude``, an amplitude-and-phase solve on top of it (``amp_solint``,
   ``solnorm``: the amplitudes are normalised to a mean of 1, so the flux scale stays the
   calibrator's and a catalog's flux-scale error cannot leak in; the solve corrects each
   antenna's drift relative to the array).
3. Quality: too little model flux (``min_model_jy``, apparent: flux x mean beam), too
   many solutions flagged (``max_flagged_fraction``, CASA ``minsnr``), or amplitudes
   scattered about 1 by more than ``max_amp_change`` rms (a model that does not describe
   the sky) make the solve *poor*; the apply step then falls back
   (:mod:`.gain_chain`).  A poor solve is a result, not an error: the job succeeds and
   says why in its summary.

The reference antenna is the transit's (one phase reference for the day) unless it has
no data in this group.
"""

from __future__ import annotations

import logging
import math
import os
import shutil

import numpy as np
from casacore import tables

from .. import msmeta
from ..beam.drift_beam import load_beams, source_beam
from ..kernels import direction_cosines, fringe_sum
from ..settings import Calibration, Telescope
from ..sky import REF_FREQ_HZ, PointSource
from .casa_calls import solve_table
from .solve import antenna_scores, pick_refant

log = logging.getLogger(__name__)


def model_terms(sources: list[PointSource], geo: msmeta.DriftGeometry, beams: dict, *, min_mjy: float,
                radius_deg: float) -> list[tuple[PointSource, np.ndarray]]:
    """(source, S(nu) A_s[t, nu]) of the catalog sources that make the field model (module
    doc, step 1); ``beams``: :func:`dsa110_contimg.beam.drift_beam.load_beams`."""
    out = []
    for s in sources:
        if s.flux_jy * 1e3 * (geo.freqs_hz.min() / REF_FREQ_HZ) ** min(s.alpha, 0.0) < min_mjy:
            continue  # too faint even on axis
        _, _, n = direction_cosines(math.radians(s.ra_deg), math.radians(s.dec_deg), geo.ra0, geo.dec0)
        if math.degrees(math.acos(min(1.0, float(n)))) > radius_deg:
            continue
        a = source_beam(beams, s, geo)
        if s.flux_jy * 1e3 * float(a.max()) < min_mjy:
            continue
        out.append((s, a * s.flux_at(geo.freqs_hz)[None, :]))
    return out


def apparent_flux_jy(terms, geo: msmeta.DriftGeometry) -> float:
    """Apparent flux (Jy) of a model's ``terms`` (:func:`model_terms`): the sum over sources of
    flux x beam averaged over the group, at the channel nearest 1.4 GHz."""
    ref = int(np.argmin(np.abs(geo.freqs_hz - REF_FREQ_HZ)))
    return float(sum(np.mean(w[:, ref]) for _, w in terms))


def write_model(ms_path: str, terms, geo: msmeta.DriftGeometry, *, threads: int = 1, rows_per_chunk: int = 20000,
                add: bool = False) -> None:
    """MODEL_DATA := sum of ``terms`` (:func:`model_terms`) on every row, XX = YY (unpolarised);
    with ``add``, MODEL_DATA += that sum (e.g. on top of a calibrator's ``ft`` model)."""
    with tables.table(ms_path, readonly=False, ack=False) as t:
        npol = t.getcell("DATA", 0).shape[-1]
        for r0 in range(0, t.nrows(), rows_per_chunk):
            n = min(rows_per_chunk, t.nrows() - r0)
            vis = fringe_sum(uvw_m=t.getcol("UVW", r0, n), freqs_hz=geo.freqs_hz, phase_centre_rad=geo.phase_centre,
                             terms=terms, time_index=geo.time_index(t.getcol("TIME", r0, n)), n_times=geo.times.size,
                             dtype=np.complex64, threads=threads)
            vis = np.repeat(vis[:, :, None], npol, axis=2)
            if add:
                vis += t.getcol("MODEL_DATA", r0, n)
            t.putcol("MODEL_DATA", vis, r0, n)


def read_gains(table: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ANTENNA1 (Nsol,), CPARAM (Nsol, Nchan, Nfeed), FLAG (Nsol, Nchan, Nfeed)) of a G table."""
    with tables.table(table, ack=False) as t:
        return t.getcol("ANTENNA1"), t.getcol("CPARAM"), t.getcol("FLAG")


def solve_quality(table: str, *, present: np.ndarray, amplitude: bool) -> dict:
    """Flagged fraction of the solutions of antennas with data (``present``: antenna indices),
    and with ``amplitude`` the rms of |g| - 1 over the unflagged ones."""
    ant, g, f = read_gains(table)
    mine = np.isin(ant, present)
    n = int(f[mine].size)
    out = {"n_solutions": n, "flagged_fraction": float(f[mine].mean()) if n else 1.0}
    ok = mine[:, None, None] & ~f
    ph = np.degrees(np.angle(g[ok]))
    out["phase_rms_deg"] = float(np.sqrt(np.mean(ph**2))) if ph.size else float("nan")
    if amplitude:
        amp = np.abs(g[ok])
        out["amp_rms"] = float(np.sqrt(np.mean((amp - 1.0) ** 2))) if amp.size else float("nan")
    return out


def solve_field(ms_path: str, *, caldir: str, applied: list[str], transit_refant: str, sources: list[PointSource],
                beam_h5: str, telescope: Telescope, calibration: Calibration, threads: int = 1) -> dict:
    """Field gains of one group (module doc).  ``applied``: the K, B and transit G tables to
    apply first; ``transit_refant``: the transit's reference antenna name.  Tables go to
    ``<caldir>/p.G`` and ``<caldir>/ap.G``.  Returns the summary: ``ok``, ``reason`` when
    poor, ``tables`` (the solved ones to apply after ``applied``), model and quality figures."""
    fg = calibration.field_gains
    shutil.rmtree(caldir, ignore_errors=True)
    os.makedirs(caldir)
    geo = msmeta.drift_geometry(ms_path, location=telescope.location)
    terms = model_terms(sources, geo, load_beams(beam_h5), min_mjy=fg.model_min_mjy, radius_deg=fg.model_radius_deg)
    apparent = apparent_flux_jy(terms, geo)
    summary = {"ms": ms_path, "mid_mjd": float(0.5 * (geo.times[0] + geo.times[-1]) / 86400.0), "applied": list(applied),
               "model": {"n_sources": len(terms), "apparent_jy": apparent, "min_mjy": fg.model_min_mjy}, "tables": {}}
    if apparent < fg.min_model_jy:
        return {**summary, "ok": False, "reason": f"model flux {apparent:.3g} Jy below field_gains.min_model_jy "
                                                  f"{fg.min_model_jy:g} Jy ({len(terms)} catalog sources)"}
    write_model(ms_path, terms, geo, threads=threads)
    names = msmeta.antenna_names(ms_path)
    with tables.table(ms_path, ack=False) as t:
        a1, a2, flag = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    rows = (a1 != a2) & ~flag.all(axis=(1, 2))
    live = np.union1d(a1[rows], a2[rows])
    refant = transit_refant if transit_refant in [names[a] for a in live] else pick_refant(ms_path, antenna_scores(ms_path), "")
    summary["refant"] = refant
    steps = [("p", "p", fg.phase_solint)] + ([("ap", "ap", fg.amp_solint)] if fg.amplitude else [])
    done: list[str] = []
    for name, mode, solint in steps:
        table = os.path.join(caldir, f"{name}.G")
        solve_table(ms_path, gaintype="G", caltable=table, refant=refant, calmode=mode, solint=solint, combine="scan",
                    minsnr=fg.minsnr, solnorm=mode == "ap", gaintables=[*applied, *done])
        if not os.path.isdir(table):
            return {**summary, "ok": False, "reason": f"CASA gaincal ({mode}) found no good solution"}
        q = solve_quality(table, present=live, amplitude=mode == "ap")
        summary["tables"][name] = table
        summary[f"quality_{name}"] = q
        done.append(table)
        if q["flagged_fraction"] > fg.max_flagged_fraction:
            return {**summary, "ok": False, "reason": f"{100 * q['flagged_fraction']:.0f}% of the {mode} solutions flagged "
                                                      f"(field_gains.max_flagged_fraction {100 * fg.max_flagged_fraction:.0f}%)"}
        if mode == "ap" and q["amp_rms"] > fg.max_amp_change:
            return {**summary, "ok": False, "reason": f"amplitudes scatter {100 * q['amp_rms']:.1f}% rms about 1 "
                                                      f"(field_gains.max_amp_change {100 * fg.max_amp_change:.0f}%): "
                                                      "the catalog model does not describe this field"}
    log.info("%s: field gains from %d catalog sources (%.2f Jy apparent), refant %s", os.path.basename(ms_path.rstrip("/")),
             len(terms), apparent, refant)
    return {**summary, "ok": True}
