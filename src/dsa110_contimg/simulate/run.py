"""Top-level simulator entry points: truth/sky files and per-group UVH5 writing."""

from __future__ import annotations

import csv
import json
import logging
import os

import numpy as np

from ..atomic import atomic_path, write_json
from ..calibration.calibrators import write_catalog
from ..geometry import N_STATIONS, load_stations
from ..provenance import provenance_record
from ..settings import Settings, Simulation, Telescope
from ..sky import PointSource
from . import corruptions
from .catalogs import write_survey_tables
from .scenario import PlannedGroup, ese_lightcurve, pick_ese_source, plan, sim_day, sky_model
from .uvh5_writer import write_group

log = logging.getLogger(__name__)

CATALOG_COLUMNS = ["name", "RAJ2000", "DEJ2000", "S1400_mJy", "e_S1400_mJy", "MajAxis_arcsec", "MinAxis_arcsec", "PA_deg"]


def active_antennas(*, simulation: Simulation, n_stations: int = N_STATIONS) -> list[int]:
    """Station numbers of the active antennas: ``active_antennas`` or a seeded draw
    (``default_rng([seed, 0])``) of ``n_active`` of stations 1..``n_stations``."""
    sim = simulation
    if sim.active_antennas:
        return sorted(int(a) for a in sim.active_antennas)
    rng = np.random.default_rng([sim.seed, 0])
    return sorted(int(x) + 1 for x in rng.choice(n_stations, sim.n_active, replace=False))


def build_truth(settings: Settings) -> dict:
    """Every injected value of the simulated run, as a JSON-serialisable dict (the whole
    ``settings``: its provenance record carries the hash of the full configuration)."""
    sim, tel = settings.simulation, settings.telescope
    groups = plan(simulation=sim, telescope=tel)
    active = active_antennas(simulation=sim)
    sky = sky_model(simulation=sim, telescope=tel, groups=groups)
    ese = sim.ese
    k_ese = pick_ese_source(sky, min_flux_mjy=ese.min_flux_mjy) if ese.enabled else None
    if k_ese is not None:
        lc = ese_lightcurve(np.arange(sim.n_epochs), center=ese.center_epoch, half_width=ese.half_width_epochs,
                            depth=ese.depth, spike=ese.spike, spike_width=ese.spike_width)
        sky[k_ese]["lightcurve"] = [float(v) for v in lc]
    truth = corruptions.draw(simulation=sim, active=active)
    truth.update(
        {
            "description": "dsa110_contimg simulator truth; angles in degrees unless *_rad, fluxes Jy at 1.4 GHz",
            "seed": sim.seed,
            "sefd_jy": sim.sefd_jy,
            "pointing_dec_deg": sim.pointing_dec_deg,
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
            "rfi": {str(g.index): corruptions.draw_rfi(simulation=sim, group_index=g.index) for g in groups},
            "provenance": provenance_record(settings.as_dict()),
        }
    )
    return truth


def write_truth(settings: Settings, *, truth_path: str, catalog_path: str, calibrators_path: str | None = None) -> dict:
    """Write ``truth.json``, the NVSS-like sky catalog CSV and (optionally) the calibrator
    catalog CSV of the simulated calibrators (atomically); returns the truth dict."""
    truth = build_truth(settings)
    if calibrators_path:
        cals = [PointSource(s["name"], s["ra_deg"], s["dec_deg"], s["flux_jy"], s["alpha"]) for s in truth["sky"] if s["kind"] == "calibrator"]
        with atomic_path(calibrators_path) as tmp:
            write_catalog(cals, tmp)
    write_json(truth_path, truth)
    with atomic_path(catalog_path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CATALOG_COLUMNS)
        for s in truth["sky"]:
            mjy = s["flux_jy"] * 1000.0
            w.writerow([s["name"], f"{s['ra_deg']:.6f}", f"{s['dec_deg']:.6f}", f"{mjy:.3f}", f"{0.03 * mjy + 0.45:.3f}", "0", "0", "0"])
    return truth


def planned_group(group_id: str, *, simulation: Simulation, telescope: Telescope) -> PlannedGroup:
    """The planned group ``group_id`` of this configuration's simulated run."""
    for g in plan(simulation=simulation, telescope=telescope):
        if g.group_id == group_id:
            return g
    raise KeyError(f"group {group_id} is not in the simulation plan of this config")


def simulate_group(*, simulation: Simulation, telescope: Telescope, truth: dict, group_id: str, out_dir: str,
                   subbands: list[int] | None = None) -> list[str]:
    """Write the UVH5 files of one planned group into ``out_dir`` (``truth``: the dict
    :func:`write_truth` wrote; ``subbands``: only these, default all planned); returns paths."""
    g = planned_group(group_id, simulation=simulation, telescope=telescope)
    stations = load_stations(telescope.station_file)
    os.makedirs(out_dir, exist_ok=True)
    return write_group(g, simulation=simulation, telescope=telescope, stations=stations, truth=truth,
                       out_dir=out_dir, subbands=subbands)


def write_day_dir(*, simulation: Simulation, telescope: Telescope, truth_path: str, date: str, out_dir: str) -> list[str]:
    """Simulate every planned group of UTC ``date`` (``YYYY-MM-DD``) into ``out_dir/<group id>/``;
    ``out_dir`` appears whole (atomically).  Returns the group directories."""
    with open(truth_path) as fh:
        truth = json.load(fh)
    groups = [g for g in plan(simulation=simulation, telescope=telescope) if sim_day(g.group_id) == date]
    if not groups:
        raise ValueError(f"no simulated group on {date} in this configuration's plan")
    stations = load_stations(telescope.station_file)
    with atomic_path(out_dir, is_dir=True) as tmp:
        for k, g in enumerate(groups):
            log.info("simulating group %s (%d of %d on %s)", g.group_id, k + 1, len(groups), date)
            group_dir = os.path.join(tmp, g.group_id)
            os.makedirs(group_dir)
            write_group(g, simulation=simulation, telescope=telescope, stations=stations, truth=truth, out_dir=group_dir)
    return [os.path.join(out_dir, g.group_id) for g in groups]


def write_truth_and_surveys(settings: Settings, *, truth_path: str, catalog_path: str, calibrators_path: str,
                            surveys: dict[str, str]) -> dict:
    """The truth rule's products: truth.json, sky.csv, calibrators.csv and NVSS/VLASS/FIRST-like
    survey tables (``surveys``: survey -> the path the rule expects, in one directory)."""
    truth = write_truth(settings, truth_path=truth_path, catalog_path=catalog_path, calibrators_path=calibrators_path)
    paths = write_survey_tables(truth["sky"], seed=settings.simulation.seed, out_dir=os.path.dirname(surveys["nvss"]))
    if paths != surveys:
        raise RuntimeError(f"survey tables written to {paths}, the workflow expects {surveys}")
    return truth
