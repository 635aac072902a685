"""Which groups a workflow run covers: the bridge between config and grouping.

Real data (``input_dir`` set): files under ``input_dir`` are discovered, grouped,
range-selected and their headers checked.  Simulated demo (``input_dir`` empty):
the simulator's plan says which files will exist, so the groups are known before
anything is written and a dry run lists every job without touching data.
"""

from __future__ import annotations

import math
import os

from . import grouping
from .simulate.scenario import plan


def raw_dir(config: dict) -> str:
    """Directory holding the raw subband files (the simulator's when input_dir is empty)."""
    return config["input_dir"] or os.path.join(config["output_dir"], "sim", "raw")


def planned_paths(config: dict) -> list[str]:
    """Every file the simulator writes: ``raw_dir/<group id>/<timestamp>_sbNN.hdf5``."""
    root = raw_dir(config)
    out = []
    for g in plan(config["simulation"], config["telescope"]):
        out += [os.path.join(root, g.group_id, name) for name in g.filenames().values()]
    return out


def discover_groups(config: dict, *, read: bool | None = None) -> list[grouping.Group]:
    """Groups in ``start``..``end``, each complete or carrying the reason it is skipped.

    ``read`` (default: only for real data) opens every file of complete groups to
    catch unreadable or inconsistent subbands.
    """
    simulate = not config["input_dir"]
    if read is None:
        read = not simulate
    if simulate:
        groups = grouping.cluster(planned_paths(config), config["group_tolerance_s"])
        groups = grouping.select_range(groups, config["start"], config["end"])
        grouping.check_complete(groups, config["expected_subbands"])
        if read:
            grouping.check_readable(groups)
        return groups
    return grouping.discover(
        raw_dir(config),
        start=config["start"],
        end=config["end"],
        tolerance_s=config["group_tolerance_s"],
        expected=config["expected_subbands"],
        read=read,
    )


def group_midpoint(config: dict, group: grouping.Group, planned: dict | None = None) -> tuple[float, float]:
    """(mid-time JD, pointing declination in radians) of a group, without reading its data.

    Simulated: from the plan (``planned``: group id -> PlannedGroup, computed once by the
    caller).  Real data: from the first file's header (first/last integration,
    ``phase_center_dec``).
    """
    if not config["input_dir"]:
        from .simulate.scenario import group_times_jd  # noqa: PLC0415

        sim = config["simulation"]
        planned = planned if planned is not None else {g.group_id: g for g in plan(sim, config["telescope"])}
        t = group_times_jd(planned[group.group_id], sim)
        return float(0.5 * (t[0] + t[-1])), math.radians(sim["pointing_dec_deg"])
    from .uvh5_io import read_header  # noqa: PLC0415

    h = read_header(group.files[min(group.files)], digest=False)
    return 0.5 * (h.time_first_jd + h.time_last_jd), float(h.extra_keywords["phase_center_dec"])


def calibrator_catalog(config: dict):
    """Calibrators: ``calibration.catalog`` if set, else (simulated demo) the simulator's calibrator."""
    from .calibration.calibrators import Calibrator, read_catalog  # noqa: PLC0415

    path = config["calibration"]["catalog"]
    if path:
        return read_catalog(path)
    if config["input_dir"]:
        from .calibration.calibrators import CalibratorCatalogError  # noqa: PLC0415

        raise CalibratorCatalogError("calibration.catalog must be set when processing real data (input_dir)")
    sim = config["simulation"]
    c = sim["calibrator"]
    return [Calibrator(c["name"], c["ra_deg"], sim["pointing_dec_deg"] + c["dec_offset_deg"], c["flux_jy"], c["alpha"])]


def calibration_plan(config: dict, groups: list[grouping.Group]) -> dict[str, dict]:
    """Per complete group: mid MJD, the calibrator it transits (or None), and either the
    calibrator group chosen for each table kind (K, B, G) or the reason it cannot be calibrated.
    """
    from . import astrometry  # noqa: PLC0415
    from .calibration.apply import ApplyError, CalSet, select_tables  # noqa: PLC0415
    from .calibration.calibrators import transit_calibrator  # noqa: PLC0415

    tel, cc = config["telescope"], config["calibration"]
    loc = astrometry.location(tel["lon_deg"], tel["lat_deg"], tel["height_m"])
    cals = calibrator_catalog(config)
    info: dict[str, dict] = {}
    planned = None if config["input_dir"] else {g.group_id: g for g in plan(config["simulation"], tel)}
    for g in groups:
        if not g.ok:
            continue
        mid_jd, dec = group_midpoint(config, g, planned)
        ra0, dec0 = astrometry.meridian_icrs(mid_jd, dec, loc)
        cal = transit_calibrator(cals, math.degrees(ra0), math.degrees(dec0), cc["min_beam_flux_jy"], tel["dish_diameter_m"])
        info[g.group_id] = {"mid_mjd": mid_jd - 2400000.5, "calibrator": cal.name if cal else None}
    calsets = [CalSet(gid, v["calibrator"], v["mid_mjd"], {k: gid for k in "KBG"}) for gid, v in info.items() if v["calibrator"]]
    for gid, v in info.items():
        try:
            chosen, _ = select_tables(calsets, v["mid_mjd"], cc["bp_validity_h"], cc["gain_validity_h"])
            v["tables_from"] = chosen
        except ApplyError as err:
            v["skip"] = str(err)
    return info
