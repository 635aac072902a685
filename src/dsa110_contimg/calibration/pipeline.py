"""Calibration steps as the workflow runs them, one function per rule: flag a group,
solve on a calibrator group, apply to a group.  Each writes its products atomically.

The rule-level functions (:func:`flag_group`, :func:`solve_group`, :func:`apply_group`)
take the whole :class:`~dsa110_contimg.settings.Settings` (their JSON carries its
provenance record); the steps below them take the sections they use.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
from casacore import tables

from .. import msmeta
from ..atomic import write_json
from ..geometry import angular_separation
from ..provenance import provenance_record
from ..settings import Calibration, Settings, Telescope
from ..sky import PointSource
from . import apply as apply_mod
from . import qa, validity
from .gain_chain import choose_gains
from .model import set_calibrator_model
from .solve import CalibrationError, antenna_scores, check_usable, dead_antennas, flag_antennas, pick_refant, solve

log = logging.getLogger(__name__)

QA_DELAYS_SUFFIX = "_delays.png"


CALIBRATOR_MATCH_ARCSEC = 60.0
"""A catalog source this close to the calibrator is the calibrator itself (already in the model)."""


def solve_calibrator_group(ms_path: str, *, calibrator: PointSource, caldir: str, telescope: Telescope,
                           calibration: Calibration, catalog_sources: list[PointSource] | None = None,
                           beam_h5: str = "") -> dict:
    """Model, dead-antenna check, reference antenna, K/B/G solves and QA statistics for one group.

    The model: the calibrator (``ft`` x the Airy beam), plus, with
    ``calibration.transit_catalog_model``, ``catalog_sources`` (the master catalog) under
    the drifting beam of ``beam_h5`` (:func:`add_catalog_sources`).
    Returns a JSON-serialisable summary (tables, refant, flagged antennas, statistics, model).
    """
    os.makedirs(caldir, exist_ok=True)
    check_usable(ms_path, calibration.min_unflagged)
    set_calibrator_model(ms_path, calibrator, telescope=telescope, workdir=caldir)
    model = {"calibrator": calibrator.name, "n_catalog_sources": 0, "catalog_apparent_jy": 0.0}
    if calibration.transit_catalog_model and catalog_sources and beam_h5:
        model.update(add_catalog_sources(ms_path, calibrator=calibrator, sources=catalog_sources, beam_h5=beam_h5,
                                         telescope=telescope, calibration=calibration))
    scores = antenna_scores(ms_path)
    dead = dead_antennas(scores, calibration.dead_fraction)
    flag_antennas(ms_path, dead)
    live = [s for s in scores if s["antenna"] not in dead]
    refant = pick_refant(ms_path, live, calibration.refant)
    tabs = solve(ms_path, caldir=caldir, refant=refant, calibration=calibration)
    with tables.table(ms_path, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    working = (a1 != a2) & ~np.isin(a1, dead) & ~np.isin(a2, dead)
    rfi_channels = f[working].all(axis=(0, 2)) if working.any() else None
    names = msmeta.antenna_names(ms_path)
    stats = {k: qa.table_stats(p, k, rfi_channels if k == "B" else None) for k, p in tabs.items()}
    return {
        "ms": ms_path,
        "calibrator": calibrator.name,
        "mid_mjd": apply_mod.ms_mid_mjd(ms_path),
        "refant": refant,
        "dead_antennas": [str(names[a]) for a in dead],
        "antenna_scores": scores,
        "tables": tabs,
        "stats": stats,
        "model": model,
    }


def add_catalog_sources(ms_path: str, *, calibrator: PointSource, sources: list[PointSource], beam_h5: str,
                        telescope: Telescope, calibration: Calibration) -> dict:
    """MODEL_DATA += the catalog ``sources`` other than the calibrator (none within
    :data:`CALIBRATOR_MATCH_ARCSEC`) as the group sees them: flux x the H5 beam's power
    pattern at each integration and channel, chosen by ``field_gains.model_min_mjy`` (mJy,
    flux x peak beam gain) and ``field_gains.model_radius_deg``
    (:func:`.field_gains.model_terms`).  Returns how many and their apparent flux (Jy, mean
    beam at 1.4 GHz)."""
    from ..beam.drift_beam import load_beams
    from .field_gains import apparent_flux_jy, model_terms, write_model

    sep = angular_separation(np.radians([s.ra_deg for s in sources]), np.radians([s.dec_deg for s in sources]),
                             np.radians(calibrator.ra_deg), np.radians(calibrator.dec_deg))
    others = [s for s, d in zip(sources, np.degrees(sep) * 3600.0) if d > CALIBRATOR_MATCH_ARCSEC]
    fg = calibration.field_gains
    geo = msmeta.drift_geometry(ms_path, location=telescope.location)
    terms = model_terms(others, geo, load_beams(beam_h5), min_mjy=fg.model_min_mjy, radius_deg=fg.model_radius_deg)
    apparent = apparent_flux_jy(terms, geo)
    if terms:
        write_model(ms_path, terms, geo, add=True)
    log.info("%s: calibrator model plus %d catalog sources (%.3f Jy apparent)", os.path.basename(ms_path.rstrip("/")),
             len(terms), apparent)
    return {"n_catalog_sources": len(terms), "catalog_apparent_jy": apparent}


def calsets_from_summaries(summaries: list[dict]) -> list[validity.CalSet]:
    """The :class:`~.validity.CalSet` of each solve summary (as written by :func:`solve_group`)."""
    return [validity.CalSet(cal_group=os.path.basename(s["ms"]), calibrator=s["calibrator"], mid_mjd=s["mid_mjd"],
                             tables=s["tables"]) for s in summaries]


def solve_group(ms_path: str, *, calibrator: PointSource, settings: Settings, caldir: str, registry: str,
                summary_path: str, delays_png: str, catalog: str = "", beam_h5: str = "") -> dict:
    """Rule ``solve``: :func:`solve_calibrator_group`, then the tables' row in the SQLite
    ``registry``, the QA plots (``delays_png`` = ``<prefix>_delays.png``; ``_bandpass.png`` and
    ``_gains.png`` beside it) and the summary JSON (with provenance) at ``summary_path``."""
    if not delays_png.endswith(QA_DELAYS_SUFFIX):
        raise ValueError(f"{delays_png}: the delay plot's name must end in {QA_DELAYS_SUFFIX}")
    cc = settings.calibration
    from ..catalog.build_master import sources_from_master

    sources = sources_from_master(catalog) if catalog and cc.transit_catalog_model else None
    summary = solve_calibrator_group(ms_path, calibrator=calibrator, caldir=caldir, telescope=settings.telescope,
                                     calibration=cc, catalog_sources=sources, beam_h5=beam_h5)
    summary["provenance"] = provenance_record(settings.as_dict(), inputs=[ms_path, *([catalog, beam_h5] if sources else [])])
    validity.register(registry, calsets_from_summaries([summary])[0], bp_validity_h=cc.bp_validity_h,
                       gain_validity_h=cc.gain_validity_h)
    qa_prefix = delays_png[: -len(QA_DELAYS_SUFFIX)]
    os.makedirs(os.path.dirname(os.path.abspath(qa_prefix)), exist_ok=True)
    qa.plot_tables(summary["tables"], qa_prefix, f"{os.path.basename(qa_prefix)} {calibrator.name}")
    write_json(summary_path, summary)
    return summary


def solve_field_group(ms_path: str, *, transit_path: str, catalog: str, beam_h5: str, settings: Settings, caldir: str,
                      threads: int = 1, ms_name: str | None = None) -> dict:
    """:func:`.field_gains.solve_field` with the transit's K, B and G applied first
    (``transit_path``: its solve summary JSON) against the master ``catalog`` (SQLite) under
    the beam model ``beam_h5``; tables in ``caldir``.  Returns the summary (``ok``, ``reason``
    when poor, quality, provenance; ``ms`` = ``ms_name``, the MS's published path, when it is
    solved in a staging directory).  A poor solve is recorded, not raised; an unusable group
    (too little unflagged data) is recorded the same way."""
    from ..catalog.build_master import sources_from_master
    from .field_gains import solve_field

    with open(transit_path) as fh:
        transit = json.load(fh)
    applied = [transit["tables"][k] for k in validity.KINDS]
    try:
        check_usable(ms_path, settings.calibration.min_unflagged)
        summary = solve_field(ms_path, caldir=caldir, applied=applied, transit_refant=transit["refant"],
                              sources=sources_from_master(catalog), beam_h5=beam_h5, telescope=settings.telescope,
                              calibration=settings.calibration, threads=threads)
    except CalibrationError as err:
        os.makedirs(caldir, exist_ok=True)
        summary = {"ms": ms_path, "mid_mjd": apply_mod.ms_mid_mjd(ms_path), "applied": applied, "tables": {},
                   "ok": False, "reason": str(err)}
    summary["transit"] = {"ms": transit["ms"], "mid_mjd": transit["mid_mjd"], "calibrator": transit["calibrator"]}
    summary["ms"] = ms_name or ms_path
    summary["provenance"] = provenance_record(settings.as_dict(), inputs=[summary["ms"], transit_path, catalog, beam_h5])
    if not summary["ok"]:
        log.warning("%s: field gain solve poor: %s", summary["ms"], summary["reason"])
    return summary


def apply_group(ms_path: str, *, solutions: list[str], settings: Settings, sidecar_path: str, field: str | None = None,
                previous: list[str] = ()) -> dict:
    """Rule ``apply``: the tables for the group's mid-time, applycal, check CORRECTED_DATA; the
    sidecar JSON (mid-time, how the group was calibrated, the tables with their windows,
    ages and grades, check statistics, provenance) to ``sidecar_path``.

    ``solutions``: the transits' solve summaries (JSON paths).  Without ``field`` (the
    transit path) K, B and G are the valid transit tables; with ``field`` (this group's
    field-gain summary) and ``previous`` (the preceding groups'), K and B come from the
    transit and the gains from :func:`.gain_chain.choose_gains`."""
    cc = settings.calibration
    summaries = [_read_json(p) for p in solutions]
    mid = apply_mod.ms_mid_mjd(ms_path)
    calsets = calsets_from_summaries(summaries)
    win = {"bp_validity_h": cc.bp_validity_h, "gain_validity_h": cc.gain_validity_h}
    if field is None:
        tabs, windows = validity.select_tables(calsets, mid, **win)
        order, interp = [tabs[k] for k in validity.KINDS], [validity.INTERP[k] for k in validity.KINDS]
        age = windows["G"]["age_h"]
        how = {"path": "transit", "gain": {"source": "transit", "age_h": age, "grade": validity.grade(age, cc.age_grades_h)}}
    else:
        _, windows = validity.select_tables(calsets, mid, kinds=("K", "B"), **win)
        transit = next(s for s in summaries if s["tables"]["B"] == windows["B"]["path"])
        choice = choose_gains(mid_mjd=mid, transit=transit, field=_read_json(field),
                              previous=[_read_json(p) for p in previous], calibration=cc)
        order, interp = choice.pop("tables"), choice.pop("interp")
        how = choice
    for kind in ("K", "B"):
        windows[kind]["grade"] = validity.grade(windows[kind]["age_h"], cc.age_grades_h)
    check = apply_mod.apply(ms_path, order, interp)
    sidecar = {"ms": ms_path, "mid_mjd": mid, **how, "applied": order, "tables": windows, "check": check,
               "provenance": provenance_record(settings.as_dict(), inputs=[ms_path, *order])}
    log.info("%s: calibrated by the %s path (gains %s, %.1f h, %s)", os.path.basename(ms_path.rstrip("/")), how["path"],
             how["gain"]["source"], how["gain"]["age_h"], how["gain"]["grade"])
    write_json(sidecar_path, sidecar)
    return sidecar


def _read_json(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)
