"""Shared fixtures: small simulated DSA-110 groups with known truth.

Sizes are kept small (few antennas, averaged channels, few integrations) so the
whole suite runs in minutes; the end-to-end tests use the demo config.
"""

from __future__ import annotations

import copy
import glob
import os

import pytest

from dsa110_contimg.config import load_config
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.run import simulate_group, write_truth

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATION_FILE = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "DSA110_Station_Coordinates.csv"))

CLEAN = {k: False for k in ("noise", "delays", "bandpass", "gains", "flux_scale", "science_drift", "dead_antenna", "rfi")}


@pytest.fixture(scope="session")
def station_file():
    """The real DSA-110 station file (never committed); tests needing it skip without it."""
    if not os.path.isfile(STATION_FILE):
        pytest.skip(f"real station file not present at {STATION_FILE}")
    return STATION_FILE


def small_config(tmp: str, **sim_over) -> dict:
    """A validated config for one small calibrator group (no science groups)."""
    sim = {
        "n_epochs": 1,
        "science_groups_per_epoch": 0,
        "n_active": 12,
        "active_antennas": [],
        "nchan_per_subband": 2,
        "ntimes": 6,
        "incomplete_groups": [],
        "n_field_sources": 0,
    }
    sim.update(sim_over)
    cfg = load_config(overrides={"output_dir": tmp, **{f"simulation.{k}": v for k, v in sim.items()}})
    # single-epoch fixtures: no post-transit drift, no ESE (the photometry tests turn them on)
    cfg["simulation"]["corruptions"]["science_drift"] = False
    cfg["simulation"]["ese"]["enabled"] = False
    if os.path.isfile(STATION_FILE):
        cfg["telescope"]["station_file"] = STATION_FILE
    return cfg


def make_group(tmp: str, cfg: dict) -> tuple[dict, list[str]]:
    """Write truth + the first planned group into ``tmp``; return (truth, sorted file list)."""
    settings = Settings.from_config(cfg)
    truth = write_truth(settings, truth_path=os.path.join(tmp, "truth.json"), catalog_path=os.path.join(tmp, "sky.csv"))
    gid = truth["groups"][0]["group_id"]
    raw = os.path.join(tmp, "raw")
    simulate_group(simulation=settings.simulation, telescope=settings.telescope, truth=truth, group_id=gid, out_dir=raw)
    return truth, sorted(glob.glob(os.path.join(raw, "*.hdf5")))


@pytest.fixture(scope="session")
def corrupted_group(tmp_path_factory):
    """A calibrator group with every corruption on (noise, delays, bandpass, gains, RFI...)."""
    tmp = str(tmp_path_factory.mktemp("corrupted"))
    cfg = small_config(tmp)
    truth, files = make_group(tmp, cfg)
    return cfg, truth, files


@pytest.fixture(scope="session")
def clean_group(tmp_path_factory):
    """A calibrator group with no corruptions and no noise: one bright source only."""
    tmp = str(tmp_path_factory.mktemp("clean"))
    cfg = small_config(tmp, n_active=24)
    cfg["simulation"]["corruptions"].update(CLEAN)
    truth, files = make_group(tmp, cfg)
    return cfg, truth, files


@pytest.fixture
def group_copy(corrupted_group, tmp_path):
    """A private copy of the corrupted group's files, safe to damage."""
    import shutil

    cfg, truth, files = corrupted_group
    out = []
    for f in files:
        dst = tmp_path / os.path.basename(f)
        shutil.copy(f, dst)
        out.append(str(dst))
    return copy.deepcopy(cfg), truth, out


def sin_wcs(n: int, cell_deg: float, centre_deg=(150.0, 55.0)):
    """A 2-D SIN-projection WCS of ``n`` x ``n`` pixels of ``cell_deg``, RA increasing to the left,
    centred at ``centre_deg`` (RA, Dec) -- the geometry of the pipeline's images."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = list(centre_deg)
    w.wcs.crpix = [n / 2 + 1, n / 2 + 1]
    w.wcs.cdelt = [-cell_deg, cell_deg]
    return w


def simulate_converted(settings, truth: dict, d: str, *, flag: bool = True) -> list[str]:
    """Every planned group of ``truth`` simulated under ``d/raw/<group>``, converted to
    ``d/<group>.ms`` and (``flag``) flagged; returns the MS paths in plan order."""
    from dsa110_contimg.calibration.flagging import flag_ms
    from dsa110_contimg.conversion.convert import convert_group

    mss = []
    for g in truth["groups"]:
        raw = f"{d}/raw/{g['group_id']}"
        simulate_group(simulation=settings.simulation, telescope=settings.telescope, truth=truth, group_id=g["group_id"], out_dir=raw)
        ms = f"{d}/{g['group_id']}.ms"
        convert_group(sorted(glob.glob(f"{raw}/*.hdf5")), ms, telescope=settings.telescope, conversion=settings.conversion)
        if flag:
            flag_ms(ms, calibration=settings.calibration)
        mss.append(ms)
    return mss


def solved_run(cfg: dict, d: str) -> dict:
    """Truth, every planned group simulated, converted and flagged (:func:`simulate_converted`)
    and the first (the calibrator transit) solved; returns settings, truth, ms (paths),
    summary (the transit's solve summary) and cal (the calibrator)."""
    from dsa110_contimg.calibration import pipeline
    from dsa110_contimg.sky import PointSource

    settings = Settings.from_config(cfg)
    truth = write_truth(settings, truth_path=f"{d}/truth.json", catalog_path=f"{d}/sky.csv")
    mss = simulate_converted(settings, truth, d)
    s = truth["sky"][0]
    cal = PointSource(s["name"], s["ra_deg"], s["dec_deg"], s["flux_jy"], s["alpha"])
    summary = pipeline.solve_calibrator_group(mss[0], calibrator=cal, caldir=f"{d}/cal", telescope=settings.telescope,
                                              calibration=settings.calibration)
    return {"settings": settings, "truth": truth, "ms": mss, "summary": summary, "cal": cal}
