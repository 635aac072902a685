"""UVH5 group -> MS: fidelity against independent computations and CASA itself."""

from __future__ import annotations

import dataclasses
import math
import os

import h5py
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import ITRS, EarthLocation, SkyCoord
from astropy.time import Time
from casacore import tables

from dsa110_contimg.conversion.convert import convert_group
from dsa110_contimg.settings import Settings

C = 299792458.0
WRITERS = ["parallel", "monolithic"]


def convert(files, out, cfg, *, writer):
    """convert_group with the config dict of a fixture and the given writer."""
    s = Settings.from_config(cfg)
    return convert_group(files, out, telescope=s.telescope, conversion=dataclasses.replace(s.conversion, writer=writer))


@pytest.fixture(scope="module", params=WRITERS)
def converted(request, corrupted_group, tmp_path_factory):
    cfg, truth, files = corrupted_group
    out = str(tmp_path_factory.mktemp(f"ms_{request.param}") / "group.ms")
    summary = convert(files, out, cfg, writer=request.param)
    return request.param, cfg, files, out, summary


def _station_positions(cfg, names):
    """Station ITRF positions straight from the station file with astropy (independent reader)."""
    import csv

    path = cfg["telescope"]["station_file"]
    if not path:
        from dsa110_contimg.geometry import builtin_t_layout

        st = builtin_t_layout()
        lat, lon, h = dict(zip(st.names, st.lat_deg)), dict(zip(st.names, st.lon_deg)), dict(zip(st.names, st.height_m))
    else:
        lat, lon, h = {}, {}, {}
        rows = list(csv.reader(open(path)))
        for r in rows:
            if len(r) > 4 and r[1].startswith("DSA-") and r[2].strip():
                lat[r[1]], lon[r[1]] = float(r[2]), float(r[3])
                h[r[1]] = float(r[4]) if r[4].strip() else None
        fill = float(np.median([v for v in h.values() if v is not None]))
        h = {k: (fill if v is None else v) for k, v in h.items()}
    loc = EarthLocation.from_geodetic([lon[n] for n in names] * u.deg, [lat[n] for n in names] * u.deg, [h[n] for n in names] * u.m)
    return np.stack([loc.x.to_value(u.m), loc.y.to_value(u.m), loc.z.to_value(u.m)], axis=1)


def _expected_uvw(cfg, ms_path):
    """UVW of every MS row computed independently: ITRS baseline projected on the
    ICRS east/north/towards axes of the FIELD phase centre at each row's time."""
    tel = cfg["telescope"]
    loc = EarthLocation.from_geodetic(tel["lon_deg"] * u.deg, tel["lat_deg"] * u.deg, tel["height_m"] * u.m)
    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        ra0, dec0 = t.getcol("PHASE_DIR")[0, 0]
    with tables.table(f"{ms_path}::ANTENNA", ack=False) as t:
        names = t.getcol("NAME")
    pos = _station_positions(cfg, names)
    with tables.table(ms_path, ack=False) as t:
        a1, a2, tsec = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("TIME")
    ut, inv = np.unique(tsec, return_inverse=True)
    obstime = Time(ut / 86400.0, format="mjd", scale="utc")
    eps = 1e-6
    vec = {}
    for key, (dra, ddec) in {"w": (0, 0), "n": (0, eps), "s": (0, -eps)}.items():
        c = SkyCoord((ra0 + dra) * u.rad, (dec0 + ddec) * u.rad).transform_to(ITRS(obstime=obstime, location=loc))
        xyz = c.cartesian.xyz.value.T
        vec[key] = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    ew = vec["w"]
    ev = vec["n"] - vec["s"]
    ev -= np.sum(ev * ew, axis=1, keepdims=True) * ew
    ev /= np.linalg.norm(ev, axis=1, keepdims=True)
    eu = np.cross(ev, ew)
    b = pos[a2] - pos[a1]
    # MS convention: UVW = -(x2 - x1) projected
    return -np.stack([np.sum(b * eu[inv], 1), np.sum(b * ev[inv], 1), np.sum(b * ew[inv], 1)], axis=1)


def test_uvw_matches_station_geometry(converted):
    writer, cfg, files, ms, _ = converted
    with tables.table(ms, ack=False) as t:
        uvw = t.getcol("UVW")
    exp = _expected_uvw(cfg, ms)
    assert np.max(np.linalg.norm(uvw - exp, axis=1)) < 1e-3  # < 1 mm
    assert np.max(np.abs(uvw)) > 100  # not trivially zero


def test_visibilities_match_independent_phasing(converted):
    """MS DATA == conj(V_raw * exp(-2 pi i nu (w_new - w_raw) / c)), channels ascending.

    V_raw, w_raw and nu come straight from the UVH5 files (h5py); w_new is the
    independent geometry of _expected_uvw (MS sign, hence the minus)."""
    writer, cfg, files, ms, _ = converted
    w_new = -_expected_uvw(cfg, ms)[:, 2]
    raw, freqs = [], []
    for f in files:
        with h5py.File(f, "r") as h:
            v = h["Data/visdata"][()]
            v = (v["r"] + 1j * v["i"]) if v.dtype.names else v
            w_raw = h["Header/uvw_array"][()][:, 2].astype(float)
            a1 = h["Header/ant_1_array"][()]
            raw.append(v)
            freqs.append(h["Header/freq_array"][()].ravel())
    v = np.concatenate(raw, axis=1)
    nu = np.concatenate(freqs)
    order = np.argsort(nu)
    v, nu = v[:, order], nu[order]
    expect = np.conj(v * np.exp(-2j * np.pi * np.outer(w_new - w_raw, nu) / C)[:, :, None])
    with tables.table(ms, ack=False) as t:
        data = t.getcol("DATA")
        assert np.array_equal(t.getcol("ANTENNA1"), a1)
        corrected, model = t.getcol("CORRECTED_DATA"), t.getcol("MODEL_DATA")
    scale = np.abs(expect).max()
    assert np.max(np.abs(data - expect)) < 2e-5 * scale
    assert np.array_equal(corrected, data), "CORRECTED_DATA initialised to DATA"
    assert np.all(model == 1), "MODEL_DATA initialised (CASA default 1+0j)"


def test_frequencies_ascending_and_contiguous(converted):
    writer, cfg, files, ms, summary = converted
    with tables.table(f"{ms}::SPECTRAL_WINDOW", ack=False) as t:
        assert t.nrows() == 1
        f = t.getcol("CHAN_FREQ")[0]
        w = t.getcol("CHAN_WIDTH")[0]
    assert f.size == 16 * cfg["simulation"]["nchan_per_subband"]
    assert np.all(w > 0)
    assert np.allclose(np.diff(f), w[0], rtol=1e-9), "contiguous, no gaps between subbands"
    assert f[0] == pytest.approx(1311.39e6 + w[0] / 2 - 0.244140625e6 / 2, abs=0.13e6)
    assert summary["writer"] == writer


def test_identity_stamped(converted):
    writer, cfg, files, ms, _ = converted
    with tables.table(f"{ms}::OBSERVATION", ack=False) as t:
        assert t.getcol("TELESCOPE_NAME") == [cfg["telescope"]["name"]]
    with tables.table(f"{ms}::ANTENNA", ack=False) as t:
        assert t.nrows() == 117
        assert set(t.getcol("MOUNT")) == {"ALT-AZ"}
        pos = t.getcol("POSITION")
    names = tables.table(f"{ms}::ANTENNA", ack=False).getcol("NAME")
    assert np.allclose(pos, _station_positions(cfg, names), atol=1e-3)
    with tables.table(ms, ack=False) as t:
        assert "DSA110_PROVENANCE" in t.getkeywords()
    # phase centre: meridian at mid-time, pointing dec (apparent -> ICRS)
    from dsa110_contimg import astrometry

    tel = cfg["telescope"]
    loc = astrometry.location(tel["lon_deg"], tel["lat_deg"], tel["height_m"])
    with tables.table(ms, ack=False) as t:
        tt = np.unique(t.getcol("TIME")) / 86400.0 + 2400000.5
    mid = 0.5 * (tt[0] + tt[-1])
    with tables.table(f"{ms}::FIELD", ack=False) as t:
        ra0, dec0 = t.getcol("PHASE_DIR")[0, 0]
    ha, dec_app = astrometry.hadec_of(ra0, dec0, mid, loc)
    assert abs(ha[0]) < 1e-7 and dec_app[0] == pytest.approx(math.radians(cfg["simulation"]["pointing_dec_deg"]), abs=1e-7)


def test_writers_agree(corrupted_group, tmp_path):
    cfg, truth, files = corrupted_group
    out = {}
    for w in WRITERS:
        convert(files, str(tmp_path / f"{w}.ms"), cfg, writer=w)
        with tables.table(str(tmp_path / f"{w}.ms"), ack=False) as t:
            out[w] = (t.getcol("DATA"), t.getcol("UVW"), t.getcol("FLAG"), t.getcol("TIME"))
    for a, b in zip(out["parallel"], out["monolithic"], strict=True):
        assert np.allclose(a, b, rtol=1e-5, atol=1e-4)


def test_atomic_output_and_no_leftovers(corrupted_group, tmp_path):
    cfg, truth, files = corrupted_group
    out = tmp_path / "g.ms"
    convert(files, str(out), cfg, writer="parallel")
    assert sorted(os.listdir(tmp_path)) == ["g.ms"]
    leftovers = [p for p in os.listdir("/dev/shm") if p.startswith(".g.ms.")] if os.path.isdir("/dev/shm") else []
    assert not leftovers


@pytest.mark.slow
def test_casa_reads_and_images(clean_group, tmp_path):
    """CASA opens the MS (msmetadata) and a dirty image puts the calibrator within one pixel."""
    from dsa110_contimg.casa_env import configure_casa

    configure_casa()
    from casatasks import tclean
    from casatools import image, msmetadata

    cfg, truth, files = clean_group
    ms = str(tmp_path / "clean.ms")
    convert(files, ms, cfg, writer="parallel")
    md = msmetadata()
    md.open(ms)
    try:
        assert md.nantennas() == 117
        assert md.nspw() == 1 and md.nchan(0) == 16 * cfg["simulation"]["nchan_per_subband"]
        assert md.observatorynames()[0] == cfg["telescope"]["name"]
        assert len(md.timesforfield(0)) == cfg["simulation"]["ntimes"]
    finally:
        md.close()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        tclean(vis=ms, imagename=str(tmp_path / "dirty"), imsize=256, cell="20arcsec", niter=0, gridder="wproject",
               wprojplanes=16, weighting="briggs", robust=0.5, datacolumn="data")
    finally:
        os.chdir(cwd)
    ia = image()
    ia.open(str(tmp_path / "dirty.image"))
    try:
        st = ia.statistics()
        cs = ia.coordsys()
        cal = truth["sky"][0]
        ref = cs.toworld(st["maxpos"], "n")["numeric"]
        true_pix = cs.topixel([math.radians(cal["ra_deg"]), math.radians(cal["dec_deg"]), ref[2], ref[3]])["numeric"]
    finally:
        ia.close()
    assert abs(true_pix[0] - st["maxpos"][0]) <= 1.0 and abs(true_pix[1] - st["maxpos"][1]) <= 1.0
    assert st["max"][0] > 0.8 * cal["flux_jy"]


@pytest.mark.parametrize("workers", [1, 3])
def test_row_blocks_and_workers_do_not_change_the_ms(corrupted_group, tmp_path, monkeypatch, workers):
    """Many small row blocks, serial or with 3 workers, give the same MS as the default."""
    from dsa110_contimg.conversion import parallel

    cfg, truth, files = corrupted_group
    convert(files, str(tmp_path / "ref.ms"), cfg, writer="parallel")
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 40_000)
    cfg2 = {**cfg, "conversion": {**cfg["conversion"], "workers": workers}}
    nrows = tables.table(str(tmp_path / "ref.ms"), ack=False).nrows()
    assert len(parallel.row_blocks(nrows, 16 * cfg["simulation"]["nchan_per_subband"], 2)) > 5
    convert(files, str(tmp_path / "blocks.ms"), cfg2, writer="parallel")
    with tables.table(str(tmp_path / "ref.ms"), ack=False) as a, tables.table(str(tmp_path / "blocks.ms"), ack=False) as b:
        for col in ("DATA", "CORRECTED_DATA", "MODEL_DATA", "FLAG", "WEIGHT_SPECTRUM", "WEIGHT", "UVW"):
            assert np.array_equal(a.getcol(col), b.getcol(col)), col


def test_conversion_workers_by_group_size(tmp_path):
    """The demo's groups (~28 MB of visibilities, 43 MB on disk) get one conversion worker
    and thread; a full-size group (96 antennas, 48 channels per subband) gets
    conversion.workers; real data are sized from the files on disk."""
    from dsa110_contimg.conversion.workers import conversion_workers, files_mb, simulated_group_mb
    from dsa110_contimg.settings import load_settings

    s = load_settings()
    demo = simulated_group_mb(s.simulation)
    n_ant = len(s.simulation.active_antennas)
    assert demo == pytest.approx(n_ant * (n_ant + 1) / 2 * 24 * 4 * 16 * 2 * 13 / 1e6)
    assert conversion_workers(demo, conversion=s.conversion) == 1
    full = simulated_group_mb(dataclasses.replace(s.simulation, active_antennas=tuple(range(1, 97)), nchan_per_subband=48))
    assert full > 1000 and conversion_workers(full, conversion=dataclasses.replace(s.conversion, workers=3)) == 3
    f = tmp_path / "sb00.hdf5"
    f.write_bytes(b"\0" * 3_000_000)
    assert files_mb([str(f), str(tmp_path / "missing.hdf5")]) == pytest.approx(3.0)
    assert conversion_workers(files_mb([str(f)]), conversion=dataclasses.replace(s.conversion, workers=4, parallel_min_mb=2)) == 4
