"""The simulator writes real-format DSA-110 UVH5 files carrying the injected physics."""

from __future__ import annotations

import math
import os
import warnings

import h5py
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time
from pyuvdata import UVData
from scipy.special import j1

from dsa110_contimg.bands import NATIVE_WIDTH_HZ, TOP_FREQ_HZ
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.scenario import plan
from dsa110_contimg.uvh5_io import parse_name

C = 299792458.0


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uv = UVData.from_file(path, file_type="uvh5", run_check=False)
    return uv


def test_file_layout(corrupted_group):
    cfg, truth, files = corrupted_group
    sim = cfg["simulation"]
    assert len(files) == 16
    parsed = [parse_name(f) for f in files]
    assert sorted(p[1] for p in parsed) == list(range(16))
    stamps = sorted({p[0] for p in parsed})
    assert len(stamps) > 1, "per-subband timestamp jitter expected"
    tmin, tmax = Time(stamps[0]), Time(stamps[-1])
    assert (tmax - tmin).sec <= sim["jitter_s"] + 1
    prev_top = None
    for sb in range(16):
        path = [f for f in files if f.endswith(f"_sb{sb:02d}.hdf5")][0]
        with h5py.File(path, "r") as f:
            h = f["Header"]
            assert h["uvw_array"].dtype == np.float32
            assert f["Data/nsamples"].dtype == np.float32
            vis = f["Data/visdata"].dtype
            assert vis == np.complex64 or (vis.names and vis["r"] == np.float32)
            freqs = h["freq_array"][()].ravel()
            width = np.ravel(h["channel_width"][()])
            assert np.all(np.diff(freqs) < 0), "channels descend within a subband"
            assert np.allclose(width, -NATIVE_WIDTH_HZ * 48 / sim["nchan_per_subband"])
            # native channel k = 48 sb + ch has centre TOP - k * 244.140625 kHz
            native = TOP_FREQ_HZ - (48 * sb + np.arange(48)) * NATIVE_WIDTH_HZ
            assert np.allclose(freqs, native.reshape(sim["nchan_per_subband"], -1).mean(1))
            if prev_top is not None:
                assert freqs[0] < prev_top, "sb00 is the highest band"
            prev_top = freqs[-1]
            assert list(h["polarization_array"][()]) == [-5, -6]
            assert int(h["Nants_telescope"][()]) == 117
            assert np.allclose(np.ravel(h["integration_time"][()]), sim["integration_s"])
            assert int(h["Ntimes"][()]) == sim["ntimes"]
            ek = {k: v[()] for k, v in h["extra_keywords"].items()}
            for key in ("phase_center_dec", "ha_phase_center", "phase_center_epoch", "applied_delays_ns", "fs_table"):
                assert key in ek
            assert math.isclose(float(ek["phase_center_dec"]), math.radians(sim["pointing_dec_deg"]))
    uv = _read(files[0])
    assert uv.Nants_data == sim["n_active"]
    assert np.any(uv.ant_1_array == uv.ant_2_array), "autocorrelations present"
    assert list(uv.phase_center_catalog.values())[0]["cat_type"] == "unprojected"
    assert uv.telescope.name == cfg["telescope"]["name"]


def test_deterministic(tmp_path, corrupted_group):
    from conftest import make_group, small_config

    cfg, truth, files = corrupted_group
    cfg2 = small_config(str(tmp_path))
    cfg2["telescope"] = cfg["telescope"]
    truth2, files2 = make_group(str(tmp_path), cfg2)
    assert [os.path.basename(f) for f in files2] == [os.path.basename(f) for f in files]
    for a, b in zip(files[:2], files2[:2], strict=True):
        with h5py.File(a) as fa, h5py.File(b) as fb:
            assert np.array_equal(fa["Data/visdata"][()], fb["Data/visdata"][()])


def test_plan_transit(corrupted_group):
    """The calibrator group's mid-time is the calibrator's meridian transit."""
    cfg, truth, files = corrupted_group
    tel = cfg["telescope"]
    loc = EarthLocation.from_geodetic(tel["lon_deg"] * u.deg, tel["lat_deg"] * u.deg, tel["height_m"] * u.m)
    s = Settings.from_config(cfg)
    g = plan(simulation=s.simulation, telescope=s.telescope)[0]
    mid = Time(g.start_jd + cfg["simulation"]["ntimes"] * cfg["simulation"]["integration_s"] / 2 / 86400, format="jd")
    cal = truth["sky"][0]
    altaz = SkyCoord(cal["ra_deg"] * u.deg, cal["dec_deg"] * u.deg).transform_to(AltAz(obstime=mid, location=loc))
    az = altaz.az.deg % 360
    assert min(abs(az), abs(az - 360), abs(az - 180)) < 0.01  # on the meridian


def test_visibilities_match_point_source_through_airy_beam(clean_group):
    """Noise-free single source: after removing the fringe-stopping and phasing to the
    source (pyuvdata's phase(), an independent implementation), every cross-correlation
    equals S(nu) * A(t, nu), the Airy power pattern evaluated at the source's
    separation from the meridian pointing (computed here with astropy AltAz)."""
    cfg, truth, files = clean_group
    tel = cfg["telescope"]
    cal = truth["sky"][0]
    uv = _read(files[5])
    w = uv.uvw_array[:, 2]
    uv.data_array *= np.exp(2j * np.pi * np.outer(w, uv.freq_array) / C)[:, :, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uv.phase(lon=math.radians(cal["ra_deg"]), lat=math.radians(cal["dec_deg"]), cat_name="cal", phase_frame="icrs")
    cross = uv.ant_1_array != uv.ant_2_array
    loc = EarthLocation.from_geodetic(tel["lon_deg"] * u.deg, tel["lat_deg"] * u.deg, tel["height_m"] * u.m)
    times = Time(uv.time_array[cross], format="jd")
    ut, inv = np.unique(uv.time_array[cross], return_inverse=True)
    frame = AltAz(obstime=Time(ut, format="jd"), location=loc)
    src = SkyCoord(cal["ra_deg"] * u.deg, cal["dec_deg"] * u.deg).transform_to(frame)
    # pointing: on the meridian at the pointing declination (elevation 90 - |lat - dec|, north of zenith)
    dec_p = cfg["simulation"]["pointing_dec_deg"]
    alt_p = 90.0 - abs(tel["lat_deg"] - dec_p)
    az_p = 0.0 if dec_p > tel["lat_deg"] else 180.0
    point = SkyCoord(az=np.full(ut.size, az_p) * u.deg, alt=np.full(ut.size, alt_p) * u.deg, frame=frame)
    sep = src.separation(point).rad[inv]
    nu = uv.freq_array
    x = math.pi * 4.65 * np.sin(sep)[:, None] * nu[None, :] / C
    beam = (2 * j1(x) / x) ** 2
    expect = cal["flux_jy"] * (nu / 1.4e9) ** cal["alpha"] * beam
    got = uv.data_array[cross, :, 0]
    assert times.size == got.shape[0]
    ratio = np.abs(got) / expect
    assert np.median(np.abs(ratio - 1)) < 0.003
    assert np.max(np.abs(ratio - 1)) < 0.02
    phase_deg = np.degrees(np.angle(got))
    assert np.sqrt(np.mean(phase_deg**2)) < 1.0
    assert np.allclose(uv.data_array[..., 0], uv.data_array[..., 1], atol=1e-4 * cal["flux_jy"])


def test_noise_follows_radiometer_equation(corrupted_group):
    """Baselines to the dead antenna hold noise only: sigma = SEFD / sqrt(2 dnu dt), scaled
    by the other antenna's gain |J| (noise enters before the gains; the dead one has unit gain)."""
    from dsa110_contimg.simulate import corruptions

    cfg, truth, files = corrupted_group
    sim = cfg["simulation"]
    dead = truth["dead_antenna"] - 1  # file antenna number = station - 1
    uv = _read(files[8])
    rfi = truth["rfi"]["0"]
    ut = np.unique(uv.time_array)
    good_t = np.setdiff1d(np.arange(uv.Ntimes), rfi["times"])
    hours = (ut - truth["run_start_jd"]) * 24.0
    sigma = sim["sefd_jy"] / math.sqrt(2 * NATIVE_WIDTH_HZ * 48 / sim["nchan_per_subband"] * sim["integration_s"])
    z = []
    for other in truth["active_antennas"]:
        if other - 1 == dead:
            continue
        m = (((uv.ant_1_array == dead) & (uv.ant_2_array == other - 1)) | ((uv.ant_2_array == dead) & (uv.ant_1_array == other - 1)))
        d = uv.data_array[m][good_t]  # (Ngood_t, Nf, 2) in time order
        jo = np.abs(corruptions.jones(truth, other, epoch=0, hours=hours[good_t], freqs_hz=uv.freq_array))  # (Nt, Nf, 2)
        z.append((d / jo).real.ravel())
    z = np.concatenate(z)
    assert np.mean(z) == pytest.approx(0, abs=5 * sigma / math.sqrt(z.size))
    assert np.std(z) == pytest.approx(sigma, rel=0.05)


def test_truth_lists_every_injection(corrupted_group):
    cfg, truth, files = corrupted_group
    for key in ("delays_ns", "bandpass", "gains", "flux_scale", "dead_antenna", "rfi", "sky", "sefd_jy", "active_antennas", "groups"):
        assert key in truth
    assert set(truth["delays_ns"]) == {str(a) for a in truth["active_antennas"]}
    assert truth["dead_antenna"] in truth["active_antennas"]
    assert len(truth["rfi"]["0"]["channels"]) == cfg["simulation"]["corruptions"]["rfi_lines"]


def test_strip_sky_crosses_ra_zero_and_gains_drift(tmp_path):
    """A 3-hour strip whose transit sits at RA 359 deg: the groups' meridian RAs cross 0h, the
    strip sky has sources at every group's RA at the configured density (Poisson), every RA in
    [0, 360); the injected gains 3 h after the transit differ from the transit's by tens of
    degrees in phase and by per cent in amplitude (so the transit's gain table is wrong then)."""
    from dsa110_contimg.astrometry import meridian_icrs
    from dsa110_contimg.config import load_config
    from dsa110_contimg.simulate import corruptions
    from dsa110_contimg.simulate.run import build_truth
    from dsa110_contimg.simulate.scenario import group_times_jd

    cfg = load_config(overrides={"output_dir": str(tmp_path), "simulation.n_epochs": 1, "simulation.incomplete_groups": [],
                                 "simulation.science_groups_per_epoch": 36, "simulation.science_offset_min": 5.2,
                                 "simulation.field_density_per_deg2": 6.0, "simulation.calibrator.ra_deg": 359.0})
    s = Settings.from_config(cfg)
    truth = build_truth(s)
    groups = plan(simulation=s.simulation, telescope=s.telescope)
    dec_p = math.radians(s.simulation.pointing_dec_deg)
    ras = [math.degrees(meridian_icrs(float(group_times_jd(g, simulation=s.simulation).mean()), dec_p, s.telescope.location)[0])
           for g in groups]
    assert ras[0] > 355 and ras[-1] < 50, (ras[0], ras[-1])  # crosses 0h
    field = [x for x in truth["sky"] if x["kind"] == "field"]
    sra, sdec = np.array([x["ra_deg"] for x in field]), np.array([x["dec_deg"] for x in field])
    assert ((sra >= 0) & (sra < 360)).all() and (np.abs(sdec - s.simulation.pointing_dec_deg) <= 1.6 + 1e-9).all()
    for ra in ras:
        d_ra = (sra - ra + 180.0) % 360.0 - 180.0
        near = np.hypot(d_ra * np.cos(np.radians(sdec)), sdec - s.simulation.pointing_dec_deg) < 1.0
        expected = 6.0 * math.pi  # within 1 deg of the group's centre
        assert abs(near.sum() - expected) < 5 * math.sqrt(expected), (ra, near.sum())
    drift = []
    for a in truth["active_antennas"]:
        g = corruptions.gain(truth, a, np.array([0.0, 3.0]))  # hours since the run start (the transit)
        drift.append(g[1] / g[0])
    drift = np.array(drift)
    rel = drift / np.exp(1j * np.angle(drift.mean(axis=0)))
    assert np.degrees(np.sqrt(np.mean(np.angle(rel) ** 2))) > 15.0
    assert np.sqrt(np.mean((np.abs(drift) / np.abs(drift).mean(axis=0) - 1) ** 2)) > 0.01


def test_plan_science_spacing():
    """science_spacing_min samples a long strip sparsely: science group starts that far
    apart (0: contiguous, one group's length); overlapping groups are refused."""
    from dsa110_contimg.config import load_config
    from dsa110_contimg.simulate.scenario import group_duration_s

    def starts(**sim):
        s = Settings.from_config(load_config(None, {"simulation.n_epochs": 1, "simulation.science_groups_per_epoch": 4,
                                                    **{f"simulation.{k}": v for k, v in sim.items()}}))
        groups = [g for g in plan(simulation=s.simulation, telescope=s.telescope) if g.kind == "science"]
        return np.array([g.start_jd for g in groups]) * 86400.0, s

    t, s = starts()
    assert np.diff(t) == pytest.approx(group_duration_s(simulation=s.simulation), abs=1e-3)
    t, _ = starts(science_spacing_min=31.0)
    assert np.diff(t) == pytest.approx(31.0 * 60.0, abs=1e-3)
    with pytest.raises(ValueError, match="science_spacing_min"):
        starts(science_spacing_min=3.0)
