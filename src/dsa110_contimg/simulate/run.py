"""Top-level simulator entry points: truth/sky files and per-group UVH5 writing."""

from __future__ import annotations

import csv
import json
import logging
import os

import numpy as np

from ..atomic import atomic_path
from ..bands import N_SUBBANDS
from ..geometry import load_stations
from ..provenance import provenance_record
from . import corruptions
from .scenario import PlannedGroup, ese_lightcurve, pick_ese_source, plan, sky_model
from .uvh5_writer import write_group

log = logging.getLogger(__name__)

CATALOG_COLUMNS = ["name", "RAJ2000", "DEJ2000", "S1400_mJy", "e_S1400_mJy", "MajAxis_arcsec", "MinAxis_arcsec", "PA_deg"]


def active_antennas(sim: dict, n_stations: int = 117) -> list[int]:
    """Station numbers of the active antennas: ``active_antennas`` or a seeded draw of ``n_active``."""
    if sim.get("active_antennas"):
        return sorted(int(a) for a in sim["active_antennas"])
    rng = np.random.default_rng([sim["seed"], 0])
    return sorted(int(x) + 1 for x in rng.choice(n_stations, sim["n_active"], replace=False))


def build_truth(config: dict) -> dict:
    """Every injected value of the simulated run, as a JSON-serialisable dict."""
    sim, tel = config["simulation"], config["telescope"]
    groups = plan(sim, tel)
    active = active_antennas(sim)
    sky = sky_model(sim, tel, groups)
    ese = sim.get("ese", {})
    k_ese = pick_ese_source(sky, sim) if ese.get("enabled") else None
    if k_ese is not None:
        lc = ese_lightcurve(np.arange(sim["n_epochs"]), ese["center_epoch"], ese["half_width_epochs"], ese["depth"],
                            ese["spike"], ese["spike_width"])
        sky[k_ese]["lightcurve"] = [float(v) for v in lc]
    truth = corruptions.draw(sim, active, sim["n_epochs"])
    nchan_total = N_SUBBANDS * sim["nchan_per_subband"]
    truth.update(
        {
            "description": "dsa110_contimg simulator truth; angles in degrees unless *_rad, fluxes Jy at 1.4 GHz",
            "seed": sim["seed"],
            "sefd_jy": sim["sefd_jy"],
            "pointing_dec_deg": sim["pointing_dec_deg"],
            "active_antennas": active,
            "run_start_jd": min(g.start_jd for g in groups),
            "sky": sky,
            "ese_source": sky[k_ese]["name"] if k_ese is not None else None,
            "groups": [
                {
                    "index": g.index,
                    "group_id": g.group_id,
                    "epoch": g.epoch,
                    "kind": g.kind,
                    "start_jd": g.start_jd,
                    "dropped_subbands": g.dropped,
                    "files": list(g.filenames().values()),
                }
                for g in groups
            ],
            "rfi": {str(g.index): corruptions.draw_rfi(sim, g.index, sim["ntimes"], nchan_total) for g in groups},
            "provenance": provenance_record(config),
        }
    )
    return truth


def write_truth(config: dict, truth_path: str, catalog_path: str, calibrators_path: str | None = None) -> dict:
    """Write ``truth.json``, the NVSS-like sky catalog CSV and (optionally) the calibrator
    catalog CSV of the simulated calibrators (atomically)."""
    truth = build_truth(config)
    if calibrators_path:
        from ..calibration.calibrators import Calibrator, write_catalog  # noqa: PLC0415

        cals = [Calibrator(s["name"], s["ra_deg"], s["dec_deg"], s["flux_jy"], s["alpha"]) for s in truth["sky"] if s["kind"] == "calibrator"]
        with atomic_path(calibrators_path) as tmp:
            write_catalog(cals, tmp)
    with atomic_path(truth_path) as tmp, open(tmp, "w") as fh:
        json.dump(truth, fh, indent=1)
    with atomic_path(catalog_path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CATALOG_COLUMNS)
        for s in truth["sky"]:
            mjy = s["flux_jy"] * 1000.0
            w.writerow([s["name"], f"{s['ra_deg']:.6f}", f"{s['dec_deg']:.6f}", f"{mjy:.3f}", f"{0.03 * mjy + 0.45:.3f}", "0", "0", "0"])
    return truth


def planned_group(config: dict, group_id: str) -> PlannedGroup:
    for g in plan(config["simulation"], config["telescope"]):
        if g.group_id == group_id:
            return g
    raise KeyError(f"group {group_id} is not in the simulation plan of this config")


def simulate_group(config: dict, truth: dict, group_id: str, out_dir: str, subbands: list[int] | None = None) -> list[str]:
    """Write the UVH5 files of one planned group into ``out_dir``."""
    g = planned_group(config, group_id)
    stations = load_stations(config["telescope"]["station_file"])
    os.makedirs(out_dir, exist_ok=True)
    return write_group(g, config["simulation"], config["telescope"], stations, truth["active_antennas"], truth["sky"], truth, out_dir, subbands)
