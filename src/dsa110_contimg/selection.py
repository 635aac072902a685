"""Which groups a workflow run covers, and how each is calibrated: the bridge between
the settings and the file-target DAG.

Real data (``input_dir`` set): files under ``input_dir`` are discovered, grouped,
range-selected and their headers checked.  Simulated demo (``input_dir`` empty):
the simulator's plan says which files will exist, so the groups are known before
anything is written and a dry run lists every job without touching data.

The calibration plan needs the calibrator catalog; it is built only when a target
needs calibration (``snakemake ms`` on real data needs no ``calibration.catalog``).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from . import grouping
from .astrometry import last_rad, meridian_icrs_many
from .atomic import atomic_path
from .calibration.calibrators import CalibratorCatalogError, beam_weighted_flux, read_catalog, transit_calibrator
from .calibration.validity import ApplyError, CalSet, select_tables
from .header_cache import HeaderCache
from .settings import Settings
from .simulate.scenario import group_times_jd, plan, sim_day
from .sky import PointSource
from .uvh5_io import read_header


def raw_dir(settings: Settings) -> str:
    """Directory holding the raw subband files (the simulator's when input_dir is empty)."""
    return settings.input_dir or os.path.join(settings.output_dir, "sim", "raw")


def planned_paths(settings: Settings, planned: list | None = None) -> list[str]:
    """Every file the simulator writes: ``raw_dir/<UTC date>/<group id>/<timestamp>_sbNN.hdf5``
    (``planned``: the simulator's plan when the caller has it)."""
    root = raw_dir(settings)
    out = []
    for g in planned if planned is not None else plan(simulation=settings.simulation, telescope=settings.telescope):
        out += [os.path.join(root, sim_day(g.group_id), g.group_id, name) for name in g.filenames().values()]
    return out


def discover_groups(settings: Settings, *, read: bool | None = None, planned: list | None = None) -> list[grouping.Group]:
    """Groups in ``start``..``end``, each complete or carrying the reason it is skipped.

    ``read`` (default: only for real data) opens every file of complete groups to
    catch unreadable or inconsistent subbands.  ``planned``: the simulator's plan, when the
    caller has it (simulated mode; computed here otherwise).
    """
    if read is None:
        read = not settings.simulate
    if settings.simulate:
        groups = grouping.cluster(planned_paths(settings, planned), settings.group_tolerance_s)
        groups = grouping.select_range(groups, settings.start, settings.end)
        grouping.check_complete(groups, settings.expected_subbands)
        if read:
            grouping.check_readable(groups)
        return groups
    cache = header_cache(settings)
    try:
        return grouping.discover(
            raw_dir(settings),
            start=settings.start,
            end=settings.end,
            tolerance_s=settings.group_tolerance_s,
            expected=settings.expected_subbands,
            read=read,
            cache=cache,
        )
    finally:
        cache.close()


def header_cache(settings: Settings) -> HeaderCache:
    """The UVH5 header cache of a real-data run (``<output_dir>/.cache/uvh5_headers.sqlite3``)."""
    return HeaderCache(os.path.join(settings.output_dir, ".cache", "uvh5_headers.sqlite3"))


def group_midpoint(settings: Settings, group: grouping.Group, planned: dict | None = None,
                   cache: HeaderCache | None = None) -> tuple[float, float]:
    """(mid-time JD, pointing declination in radians) of a group, without reading its data.

    Simulated: from the plan (``planned``: group id -> PlannedGroup, computed once by the
    caller).  Real data: from the first file's header (first/last integration,
    ``phase_center_dec``).
    """
    if settings.simulate:
        sim = settings.simulation
        if planned is None:
            planned = {g.group_id: g for g in plan(simulation=sim, telescope=settings.telescope)}
        t = group_times_jd(planned[group.group_id], simulation=sim)
        return float(0.5 * (t[0] + t[-1])), math.radians(sim.pointing_dec_deg)
    first = group.files[min(group.files)]
    h = cache.header(first) if cache is not None else read_header(first, digest=False)
    return 0.5 * (h.time_first_jd + h.time_last_jd), float(h.extra_keywords["phase_center_dec"])


CATALOG_NEEDED = (
    "calibration.catalog must be set when processing real data (input_dir) beyond conversion: "
    "the targets caltables, images, photometry and all need a calibrator catalog "
    "(CSV: name, ra_deg, dec_deg, flux_jy, alpha); `snakemake ms` converts without it"
)


def calibrator_catalog(settings: Settings) -> list[PointSource]:
    """Calibrators: ``calibration.catalog`` if set, else (simulated demo) the simulator's calibrator."""
    if settings.calibration.catalog:
        return read_catalog(settings.calibration.catalog)
    if not settings.simulate:
        raise CalibratorCatalogError(CATALOG_NEEDED)
    sim = settings.simulation
    c = sim.calibrator
    return [PointSource(c.name, c.ra_deg, sim.pointing_dec_deg + c.dec_offset_deg, c.flux_jy, c.alpha)]


def calibration_plan(settings: Settings, groups: list[grouping.Group], *, planned: list | None = None) -> dict[str, dict]:
    """Per complete group: mid MJD, the calibrator it transits (or None), and either the
    calibrator group chosen for each table kind (K, B, G) or the reason it cannot be calibrated.

    ``path``: ``transit`` when a transit's G window covers the group, else ``field``
    (G is :data:`FIELD`: solved on the group, K and B from the transit; ``lookback``:
    the preceding field-path groups, nearest first, for the apply step's fallback).
    With ``calibration.field_gains.enabled`` false a group outside every G window is skipped.
    ``planned``: the simulator's plan, when the caller has it (simulated mode).
    """
    tel, cc = settings.telescope, settings.calibration
    cals = calibrator_catalog(settings)
    info: dict[str, dict] = {}
    if settings.simulate:
        planned = {g.group_id: g for g in (planned if planned is not None else plan(simulation=settings.simulation, telescope=tel))}
    else:
        planned = None
    ok = [g for g in groups if g.ok]
    cache = None if settings.simulate else header_cache(settings)
    try:
        mids = [group_midpoint(settings, g, planned, cache) for g in ok]
    finally:
        if cache is not None:
            cache.close()
    near = _near_a_calibrator([m[0] for m in mids], cals, tel)
    idx = np.flatnonzero(near)
    ras, decs = np.full(len(ok), np.nan), np.full(len(ok), np.nan)
    if idx.size:
        ras[idx], decs[idx] = meridian_icrs_many([mids[i][0] for i in idx], [mids[i][1] for i in idx], tel.location)
    weight: dict[str, float] = {}
    for g, (mid_jd, _), ra0, dec0, close in zip(ok, mids, ras, decs, near):
        cal = transit_calibrator(cals, ra0_deg=math.degrees(ra0), dec0_deg=math.degrees(dec0),
                                 min_flux_jy=cc.min_beam_flux_jy, dish_m=tel.dish_diameter_m) if close else None
        info[g.group_id] = {"mid_mjd": mid_jd - 2400000.5, "calibrator": cal.name if cal else None}
        if cal:
            weight[g.group_id] = beam_weighted_flux(cal, ra0_deg=math.degrees(ra0), dec0_deg=math.degrees(dec0),
                                                    dish_m=tel.dish_diameter_m)
    _one_group_per_transit(info, weight)
    calsets = [CalSet(cal_group=gid, calibrator=v["calibrator"], mid_mjd=v["mid_mjd"], tables={k: gid for k in "KBG"})
               for gid, v in info.items() if v["calibrator"]]
    windows = {"bp_validity_h": cc.bp_validity_h, "gain_validity_h": cc.gain_validity_h}
    field_path: list[str] = []
    for gid, v in sorted(info.items(), key=lambda kv: kv[1]["mid_mjd"]):
        try:
            chosen, _ = select_tables(calsets, v["mid_mjd"], kinds=("K", "B"), **windows)
        except ApplyError as err:
            v["skip"] = str(err)
            continue
        try:
            chosen.update(select_tables(calsets, v["mid_mjd"], kinds=("G",), **windows)[0])
            v["path"] = "transit"
        except ApplyError as err:
            if not cc.field_gains.enabled:
                v["skip"] = f"{err}; calibration.field_gains.enabled is false"
                continue
            chosen["G"] = FIELD
            v["path"] = "field"
            n = cc.fallback_lookback_groups
            v["lookback"] = field_path[-n:][::-1] if n else []
            field_path.append(gid)
        v["tables_from"] = chosen
    return info


NEAR_CALIBRATOR_RA_DEG = 15.0
"""A group whose meridian (apparent sidereal time) is farther than this in RA from every
calibrator cannot see one: the beam (FWHM ~2.7 deg, first null 3.2 deg) is far below
``min_beam_flux_jy`` there, so the ICRS meridian is worked out only for the others."""


def _near_a_calibrator(mid_jds: list[float], cals: list[PointSource], tel) -> np.ndarray:
    """Per group mid-time: is some calibrator within :data:`NEAR_CALIBRATOR_RA_DEG` of RA of the
    meridian (apparent sidereal time; ICRS differs by < 1 deg)?"""
    if not mid_jds or not cals:
        return np.zeros(len(mid_jds), bool)
    lst = last_rad(np.asarray(mid_jds, float), tel.location)
    ra = np.radians([c.ra_deg for c in cals])
    d = np.abs(np.angle(np.exp(1j * (lst[:, None] - ra[None, :]))))
    return (d < math.radians(NEAR_CALIBRATOR_RA_DEG)).any(axis=1)


def _one_group_per_transit(info: dict[str, dict], weight: dict[str, float]) -> None:
    """Keep, of the consecutive groups that see the same calibrator (a transit lasts ~10
    groups above ``min_beam_flux_jy``), the one where its beam-weighted flux ``weight`` is
    largest (nearest the meridian); the others become fields within its gain window.
    Groups of one transit are less than 2 h apart; transits of a calibrator a sidereal day."""
    by_cal: dict[str, list[str]] = {}
    for gid, v in sorted(info.items(), key=lambda kv: kv[1]["mid_mjd"]):
        if v["calibrator"]:
            by_cal.setdefault(v["calibrator"], []).append(gid)
    for gids in by_cal.values():
        run = [gids[0]]
        for gid in gids[1:] + [None]:
            if gid is not None and (info[gid]["mid_mjd"] - info[run[-1]]["mid_mjd"]) * 24.0 < 2.0:
                run.append(gid)
                continue
            best = max(run, key=lambda g: weight[g])
            for g in run:
                if g != best:
                    info[g]["calibrator"] = None
            run = [gid]


FIELD = "field"
"""``tables_from["G"]`` of a group whose gains are solved on the group itself."""


LEDGER_COLUMNS = ("group", "mid_mjd", "path", "kb_transit", "kb_age_h", "kb_grade", "gain_source", "gain_age_h",
                  "gain_grade", "field_solve", "note")
"""``ledger/calibration.csv``: how each complete group was calibrated, or why it was not."""


def calibration_ledger_rows(cal_plan: dict[str, dict], sidecars: dict[str, dict]) -> list[dict]:
    """One row per complete group (:data:`LEDGER_COLUMNS`): from its apply sidecar (``sidecars``:
    group id -> the ``calibrated/<group>.json`` content) when it was calibrated, else the
    plan's reason (path ``skipped``)."""
    rows = []
    for gid, v in sorted(cal_plan.items()):
        if "skip" in v or gid not in sidecars:
            rows.append({"group": gid, "mid_mjd": f"{v['mid_mjd']:.6f}", "path": "skipped",
                         "note": v.get("skip", "not calibrated (no apply sidecar)")})
            continue
        sc = sidecars[gid]
        kb, gain, fs = sc["tables"]["B"], sc["gain"], sc.get("field")
        rows.append({"group": gid, "mid_mjd": f"{sc['mid_mjd']:.6f}", "path": sc["path"], "kb_transit": os.path.splitext(kb["cal_group"])[0],
                     "kb_age_h": f"{kb['age_h']:.2f}", "kb_grade": kb.get("grade", ""), "gain_source": gain["source"],
                     "gain_age_h": f"{gain['age_h']:.2f}", "gain_grade": gain["grade"],
                     "field_solve": "" if fs is None else ("good" if fs.get("ok") else "poor"),
                     "note": sc.get("fallback_reason", "")})
    return rows


def write_calibration_ledger(cal_plan: dict[str, dict], path: str, sidecars: dict[str, dict] | None = None) -> None:
    """CSV (:data:`LEDGER_COLUMNS`) of every complete group: how it was calibrated (its apply
    sidecar) or why it was not (the plan's reason), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LEDGER_COLUMNS, restval="")
        w.writeheader()
        w.writerows(calibration_ledger_rows(cal_plan, sidecars or {}))