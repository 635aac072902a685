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

from . import grouping
from .astrometry import meridian_icrs
from .atomic import atomic_path
from .calibration.calibrators import CalibratorCatalogError, read_catalog, transit_calibrator
from .calibration.validity import ApplyError, CalSet, select_tables
from .settings import Settings
from .simulate.scenario import group_times_jd, plan, sim_day
from .sky import PointSource
from .uvh5_io import read_header


def raw_dir(settings: Settings) -> str:
    """Directory holding the raw subband files (the simulator's when input_dir is empty)."""
    return settings.input_dir or os.path.join(settings.output_dir, "sim", "raw")


def planned_paths(settings: Settings) -> list[str]:
    """Every file the simulator writes: ``raw_dir/<UTC date>/<group id>/<timestamp>_sbNN.hdf5``."""
    root = raw_dir(settings)
    out = []
    for g in plan(simulation=settings.simulation, telescope=settings.telescope):
        out += [os.path.join(root, sim_day(g.group_id), g.group_id, name) for name in g.filenames().values()]
    return out


def discover_groups(settings: Settings, *, read: bool | None = None) -> list[grouping.Group]:
    """Groups in ``start``..``end``, each complete or carrying the reason it is skipped.

    ``read`` (default: only for real data) opens every file of complete groups to
    catch unreadable or inconsistent subbands.
    """
    if read is None:
        read = not settings.simulate
    if settings.simulate:
        groups = grouping.cluster(planned_paths(settings), settings.group_tolerance_s)
        groups = grouping.select_range(groups, settings.start, settings.end)
        grouping.check_complete(groups, settings.expected_subbands)
        if read:
            grouping.check_readable(groups)
        return groups
    return grouping.discover(
        raw_dir(settings),
        start=settings.start,
        end=settings.end,
        tolerance_s=settings.group_tolerance_s,
        expected=settings.expected_subbands,
        read=read,
    )


def group_midpoint(settings: Settings, group: grouping.Group, planned: dict | None = None) -> tuple[float, float]:
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
    h = read_header(group.files[min(group.files)], digest=False)
    return 0.5 * (h.time_first_jd + h.time_last_jd), float(h.extra_keywords["phase_center_dec"])


CATALOG_NEEDED = (
    "calibration.catalog must be set when processing real data (input_dir) beyond conversion: "
    "the targets calibrated, caltables, images, photometry and all need a calibrator catalog "
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


def calibration_plan(settings: Settings, groups: list[grouping.Group]) -> dict[str, dict]:
    """Per complete group: mid MJD, the calibrator it transits (or None), and either the
    calibrator group chosen for each table kind (K, B, G) or the reason it cannot be calibrated.
    """
    tel, cc = settings.telescope, settings.calibration
    cals = calibrator_catalog(settings)
    info: dict[str, dict] = {}
    planned = {g.group_id: g for g in plan(simulation=settings.simulation, telescope=tel)} if settings.simulate else None
    for g in groups:
        if not g.ok:
            continue
        mid_jd, dec = group_midpoint(settings, g, planned)
        ra0, dec0 = meridian_icrs(mid_jd, dec, tel.location)
        cal = transit_calibrator(cals, ra0_deg=math.degrees(ra0), dec0_deg=math.degrees(dec0),
                                 min_flux_jy=cc.min_beam_flux_jy, dish_m=tel.dish_diameter_m)
        info[g.group_id] = {"mid_mjd": mid_jd - 2400000.5, "calibrator": cal.name if cal else None}
    calsets = [CalSet(cal_group=gid, calibrator=v["calibrator"], mid_mjd=v["mid_mjd"], tables={k: gid for k in "KBG"})
               for gid, v in info.items() if v["calibrator"]]
    for gid, v in info.items():
        try:
            chosen, _ = select_tables(calsets, v["mid_mjd"], bp_validity_h=cc.bp_validity_h, gain_validity_h=cc.gain_validity_h)
            v["tables_from"] = chosen
        except ApplyError as err:
            v["skip"] = str(err)
    return info


def write_calibration_ledger(cal_plan: dict[str, dict], path: str) -> None:
    """CSV (group, mid_mjd, reason) of the complete groups that no valid calibration covers."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["group", "mid_mjd", "reason"])
        for gid, v in sorted(cal_plan.items()):
            if "skip" in v:
                w.writerow([gid, f"{v['mid_mjd']:.6f}", v["skip"]])
