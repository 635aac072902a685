"""The fringe kernels against independent computations (no CASA; the CASA ``ft`` check of the
same convention is test_calibration.py::test_model_dft_matches_ft)."""

from __future__ import annotations

import math

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from dsa110_contimg.geometry import C_M_S
from dsa110_contimg.kernels import direction_cosines, fringe_sum
from dsa110_contimg.sky import REF_FREQ_HZ, PointSource, alpha_or_default


def test_direction_cosines_against_astropy_offsets():
    ra0, dec0 = math.radians(128.0), math.radians(54.57)
    ra, dec = math.radians(129.3), math.radians(55.4)
    l, m, n = direction_cosines(ra, dec, ra0, dec0)
    assert abs(l**2 + m**2 + n**2 - 1) < 1e-12
    # astropy's SkyOffsetFrame: lon east, lat north on the tangent sphere at (ra0, dec0)
    c = SkyCoord(ra * u.rad, dec * u.rad).transform_to(SkyCoord(ra0 * u.rad, dec0 * u.rad).skyoffset_frame())
    lon, lat = c.lon.rad, c.lat.rad
    assert abs(l - math.cos(lat) * math.sin(lon)) < 1e-12 and abs(m - math.sin(lat)) < 1e-12
    assert l > 0 and m > 0  # east (larger RA) and north


def test_fringe_sum_matches_a_direct_sum():
    rng = np.random.default_rng(1)
    uvw = rng.normal(0, 300, (50, 3))
    freqs = np.linspace(1.31e9, 1.5e9, 100)  # more than one channel block
    ra0, dec0 = math.radians(10.0), math.radians(40.0)
    srcs = [PointSource("a", 10.5, 40.3, 1.0, -0.7), PointSource("b", 9.2, 39.1, 0.3, 0.0)]
    ntimes = 4
    tidx = rng.integers(0, ntimes, 50)
    weights = [rng.uniform(0.5, 1, (ntimes, freqs.size)) * s.flux_at(freqs)[None, :] for s in srcs]
    got = fringe_sum(uvw_m=uvw, freqs_hz=freqs, phase_centre_rad=(ra0, dec0), terms=list(zip(srcs, weights)),
                     time_index=tidx, n_times=ntimes)
    want = np.zeros_like(got)
    for s, w in zip(srcs, weights):
        ra, dec = math.radians(s.ra_deg), math.radians(s.dec_deg)
        # direction cosines from unit vectors in the phase centre's (east, north, towards) basis
        p = np.array([math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec)])
        e = np.array([-math.sin(ra0), math.cos(ra0), 0.0])
        nvec = np.array([-math.sin(dec0) * math.cos(ra0), -math.sin(dec0) * math.sin(ra0), math.cos(dec0)])
        z = np.array([math.cos(dec0) * math.cos(ra0), math.cos(dec0) * math.sin(ra0), math.sin(dec0)])
        lmn = np.array([p @ e, p @ nvec, p @ z - 1.0])
        for r in range(uvw.shape[0]):
            want[r] += w[tidx[r]] * np.exp(2j * np.pi * (uvw[r] @ lmn) * freqs / C_M_S)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_source_at_phase_centre_is_its_weight():
    s = PointSource("c", 200.0, -10.0, 2.0, -0.5)
    uvw = np.array([[100.0, -50.0, 20.0], [0.0, 0.0, 0.0]])
    freqs = np.array([1.3e9, REF_FREQ_HZ])
    got = fringe_sum(uvw_m=uvw, freqs_hz=freqs, phase_centre_rad=(math.radians(200.0), math.radians(-10.0)),
                     terms=[(s, s.flux_at(freqs)[None, :])], time_index=np.zeros(2, int), n_times=1)
    np.testing.assert_allclose(got, np.broadcast_to(s.flux_at(freqs), (2, 2)), rtol=1e-12)
    assert abs(s.flux_at(REF_FREQ_HZ) - 2.0) < 1e-15


def test_alpha_default_only_where_missing():
    assert alpha_or_default(float("nan")) == -0.7 and alpha_or_default(None) == -0.7 and alpha_or_default(-1.2) == -1.2


def test_fringe_sum_single_precision_and_uneven_channels():
    """complex64 (the static beam's precision) agrees with complex128 to 1e-5 of the weight on
    full-size baselines (km) over 48-channel blocks; unevenly spaced channels take the
    direct exponential and agree too."""
    rng = np.random.default_rng(2)
    uvw = rng.normal(0, 1500, (200, 3))
    srcs = [PointSource("a", 10.9, 41.2, 1.0, -0.7)]
    for freqs in (1.31e9 + 244e3 * np.arange(96), np.sort(rng.uniform(1.31e9, 1.5e9, 60))):
        kw = dict(uvw_m=uvw, freqs_hz=freqs, phase_centre_rad=(math.radians(10.0), math.radians(40.0)),
                  terms=[(srcs[0], np.ones((1, freqs.size)))], time_index=np.zeros(200, int), n_times=1)
        d64, d32 = fringe_sum(**kw), fringe_sum(**kw, dtype=np.complex64)
        assert d32.dtype == np.complex64 and np.max(np.abs(d32 - d64)) < 1e-5
        ra, dec = math.radians(10.9), math.radians(41.2)
        from dsa110_contimg.kernels import direction_cosines
        l, m, n = direction_cosines(ra, dec, math.radians(10.0), math.radians(40.0))
        direct = np.exp(2j * np.pi * (uvw @ np.array([l, m, n - 1]))[:, None] * freqs[None, :] / C_M_S)
        np.testing.assert_allclose(d64, direct, rtol=0, atol=1e-9)


def test_fringe_sum_threads_give_the_same_sum():
    rng = np.random.default_rng(3)
    uvw = rng.normal(0, 500, (300, 3))
    freqs = 1.31e9 + 244e3 * np.arange(60)
    srcs = [PointSource(f"s{k}", 10 + rng.uniform(-1, 1), 40 + rng.uniform(-1, 1), 1.0, -0.7) for k in range(5)]
    kw = dict(uvw_m=uvw, freqs_hz=freqs, phase_centre_rad=(math.radians(10.0), math.radians(40.0)),
              terms=[(s, rng.uniform(0, 1, (3, freqs.size))) for s in srcs], time_index=rng.integers(0, 3, 300), n_times=3)
    np.testing.assert_allclose(fringe_sum(**kw, threads=2), fringe_sum(**kw), rtol=1e-12, atol=1e-12)
