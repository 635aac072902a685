"""The truth checks (dsa110_contimg.validation) on small synthetic inputs with known answers:
a truth dict and fake caltables, flags, images, QA records and photometry tables."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from astropy.wcs import WCS
from conftest import sin_wcs

from dsa110_contimg.simulate import corruptions
from dsa110_contimg.validation import calibration as vcal
from dsa110_contimg.validation import imaging as vimg
from dsa110_contimg.validation import photometry as vphot

# ----------------------------------------------------------------------------- calibration


def _truth_cal() -> dict:
    """Stations 1..4; station 4 is dead; bandpass polynomials with a ripple."""
    bp = {}
    for st in range(1, 5):
        bp[str(st)] = {"amp_coeffs": [[0.05 * st, -0.02], [0.03, 0.01 * st]],
                       "phase_coeffs_rad": [[0.1, 0.05 * st], [-0.2 * st, 0.03]],
                       "ripple": [0.01, 0.02], "ripple_period_hz": [30e6, 45e6], "ripple_phase_rad": [0.3, 1.0]}
    return {"delays_ns": {"1": [1.0, 2.0], "2": [3.0, -1.0], "3": [-0.5, 0.25], "4": [9.0, 9.0]},
            "dead_antenna": 4, "bandpass": bp}


def _k_table(truth: dict, ref: int, err: np.ndarray, flag_ant: int | None = None) -> dict:
    """A K caltable dict whose solutions are CASA's sign of the injected delays plus ``err`` (Nant, 2)."""
    ants = np.arange(4)
    tau = np.array([truth["delays_ns"][str(a + 1)] for a in ants])
    vals = -(tau - tau[ref - 1]) + err
    flags = np.zeros((4, 1, 2), bool)
    if flag_ant is not None:
        flags[flag_ant, 0, 1] = True
    return {"antenna": ants, "values": vals[:, None, :], "flags": flags}


def _b_table(truth: dict, ref: int, freqs: np.ndarray) -> dict:
    """A B caltable dict: the truth referred to the reference antenna's phase, times a
    per-antenna complex constant (the gain scale and phase, which the check removes)."""
    bref = corruptions.bandpass(truth, ref, freqs)
    vals = np.stack([corruptions.bandpass(truth, a + 1, freqs) * np.exp(-1j * np.angle(bref)) * (1.5 + a) * np.exp(0.4j * a)
                     for a in range(4)])
    return {"antenna": np.arange(4), "values": vals, "flags": np.zeros(vals.shape, bool), "freqs": freqs}


def test_delay_residuals_sign_reference_dead_and_flags():
    truth = _truth_cal()
    err = np.array([[0.0, 0.0], [0.1, -0.2], [0.05, 0.3], [5.0, 5.0]])
    res, flagged = vcal.delay_residuals(_k_table(truth, 2, err, flag_ant=2), truth, ref=2)
    assert res.shape == (3, 2)  # the dead antenna (station 4) is skipped
    np.testing.assert_allclose(res, err[:3], atol=1e-12)
    assert flagged.tolist() == [False, False, True]


def test_bandpass_residuals_zero_for_the_truth_and_see_an_error():
    truth = _truth_cal()
    freqs = corruptions.BAND_LO_HZ + np.linspace(1e6, 180e6, 64)
    b = _b_table(truth, 1, freqs)
    amp, ph = vcal.bandpass_residuals(b, truth, ref=1)
    assert amp.shape == ph.shape == (3 * 2 * 64,)  # 3 working antennas x 2 pols x 64 channels
    assert np.max(np.abs(amp)) < 1e-12 and np.max(np.abs(ph)) < 1e-9
    # flagged channels are left out; a 2% error in one channel of one antenna shows up
    b["flags"][1, :10, 0] = True
    b["values"][2, 20, 1] *= 1.02
    amp, ph = vcal.bandpass_residuals(b, truth, ref=1)
    assert amp.size == 3 * 2 * 64 - 10
    assert np.sum(np.abs(amp) > 0.01) == 1 and np.max(amp) == pytest.approx(0.02 * (1 - 1 / 64), rel=0.05)
    b["values"][3, 5, 0] = 0  # the dead antenna's solutions are never looked at
    amp2, _ = vcal.bandpass_residuals(b, truth, ref=1)
    np.testing.assert_array_equal(amp, amp2)


def test_check_transit_and_format():
    truth = _truth_cal()
    err = np.array([[0.0, 0.0], [0.3, -0.4], [0.0, 0.0], [5.0, 5.0]])
    freqs = corruptions.BAND_LO_HZ + np.linspace(1e6, 180e6, 16)
    summary = {"refant": "DSA-001", "dead_antennas": ["DSA-004"],
               "stats": {"B": {"summary": {"flagged_fraction_working": 0.0123}}}}
    c = vcal.check_transit(summary, truth, k=_k_table(truth, 1, err), b=_b_table(truth, 1, freqs))
    assert c["delay_rms_ns"] == pytest.approx(math.sqrt((0.3**2 + 0.4**2) / 6))
    assert c["bandpass_amp_rms_pct"] < 1e-9 and c["dead_antenna_flagged"]
    assert math.isnan(c["b_flagged_working_usable_pct"])
    assert not vcal.check_transit({**summary, "dead_antennas": []}, truth, k=_k_table(truth, 1, err),
                                  b=_b_table(truth, 1, freqs))["dead_antenna_flagged"]
    c.update(bandpass_amp_rms_pct=1.234, bandpass_phase_rms_deg=0.567, b_flagged_working_usable_pct=0.5)
    lines = vcal.format_calibration({"transits": {"2026-01-15T08:00:00": c},
                                     "flagging": {"g1": {"kind": "science", "rfi_flagged_pct": 97.25, "clean_flagged_pct": 0.125}}})
    assert lines == [
        "calibrator transits:",
        "  2026-01-15T08:00:00: refant DSA-001, delay rms 0.204 ns, bandpass amp 1.23% / phase 0.57 deg rms, "
        "B flagged on working antennas 1.2% (0.5% outside RFI-flagged channels), dead antenna flagged: True",
        "flagging:",
        "  g1 (science): injected RFI flagged 97.2%, clean data flagged 0.12%",
    ]


def test_check_flags_counts_rfi_and_clean_samples():
    n_ant, n_t, nch = 4, 5, 8  # station 4 dead
    pairs = [(i, j) for i in range(n_ant) for j in range(i, n_ant)]
    a1 = np.array([p[0] for _ in range(n_t) for p in pairs])
    a2 = np.array([p[1] for _ in range(n_t) for p in pairs])
    tm = np.repeat(np.arange(n_t) * 10.0, len(pairs))
    flag = np.zeros((a1.size, nch, 2), bool)
    rfi = {"channels": [0, 3], "times": [2]}  # channels counted from the top of the band
    rows_t2 = tm == 20.0
    flag[rows_t2] = True
    flag[:, [nch - 1, nch - 4]] = True
    cross_good = (a1 != a2) & (a1 != 3) & (a2 != 3)
    clean_row = np.flatnonzero(cross_good & (tm == 0.0))[0]
    flag[clean_row, 1, 0] = True  # one clean sample flagged
    flag[(a1 == 3) | (a2 == 3)] = False  # the dead antenna's rows are ignored either way
    # one injected sample not flagged
    flag[np.flatnonzero(cross_good & (tm == 20.0))[1], 5, 1] = False
    c = vcal.check_flags(flag, a1, a2, tm, rfi=rfi, dead_antenna=4)
    n_bl = 3  # cross-correlations among stations 1..3
    n_rfi = n_bl * 2 * (n_t * 2 + 1 * (nch - 2))
    n_all = n_bl * 2 * n_t * nch
    assert c["rfi_flagged_pct"] == pytest.approx(100 * (n_rfi - 1) / n_rfi)
    assert c["clean_flagged_pct"] == pytest.approx(100 / (n_all - n_rfi))


# ----------------------------------------------------------------------------- imaging

N, CELL = 160, 10.0 / 3600
BMAJ = BMIN = 60.0 / 3600


def _wcs() -> WCS:
    return sin_wcs(N, CELL)


def _sky_image(sky, fluxes, shift_pix=(0.0, 0.0)):
    """A pbcor image: a circular Gaussian beam (FWHM = BMAJ) of the given peak at each source."""
    w = _wcs()
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    sig = BMAJ / CELL / math.sqrt(8 * math.log(2))
    img = np.zeros((N, N))
    for s, f in zip(sky, fluxes, strict=True):
        x, y = w.world_to_pixel_values(s["ra_deg"], s["dec_deg"])
        img += f * np.exp(-0.5 * ((xx - x - shift_pix[0]) ** 2 + (yy - y - shift_pix[1]) ** 2) / sig**2)
    return img


def _src(name, dx_pix, dy_pix, flux, alpha=-0.7, **kw):
    ra, dec = (float(v) for v in _wcs().pixel_to_world_values(N / 2 + dx_pix, N / 2 + dy_pix))
    return {"name": name, "ra_deg": ra, "dec_deg": dec, "flux_jy": flux, "alpha": alpha, **kw}


def test_expected_flux_spectrum_lightcurve_drift():
    s = {"flux_jy": 2.0, "alpha": -0.7, "lightcurve": [1.0, 0.8, 1.0]}
    assert vimg.expected_flux(s, freq_hz=1.4e9, epoch=1, drift=None) == pytest.approx(1.6)
    assert vimg.expected_flux(s, freq_hz=2.8e9, epoch=1, drift=[1.0, 1.1]) == pytest.approx(1.6 * 2**-0.7 * 1.1)
    assert vimg.expected_flux({"flux_jy": 1.0, "alpha": 0.0}, freq_hz=1.4e9, epoch=3, drift=[1, 1, 1, 0.9]) == pytest.approx(0.9)


def test_check_sources_selection_flux_and_offset():
    nu, drift, epoch = 1.4e9, [1.0, 1.05], 1
    sky = [
        _src("BRIGHT", -30.3, 20.6, 0.5),
        _src("ESE", 35.0, -25.0, 0.2, lightcurve=[1.0, 0.7]),
        _src("FAINT", 20.0, 40.0, 0.004),  # SNR < 50
        _src("PAIR_A", -40.0, -40.0, 0.3), _src("PAIR_B", -36.0, -40.0, 0.3),  # 40" apart < 1.5 BMAJ
        _src("EDGE", N / 2 - 4, 0.0, 0.5),  # inside 8 pixels of the edge
        _src("LOWPB", 0.0, -60.0, 0.5),  # pb 0.4 there
    ]
    expect = [vimg.expected_flux(s, freq_hz=nu, epoch=epoch, drift=drift) for s in sky]
    img = _sky_image(sky, [e * (1.02 if s["name"] == "ESE" else 1.0) for s, e in zip(sky, expect, strict=True)],
                     shift_pix=(0.3, 0.0))
    pb = np.full((N, N), 0.9)
    pb[: N // 2 - 50] = 0.4
    rms = 1e-3
    got, blended = vimg.check_sources(img, pb, wcs=_wcs(), freq_hz=nu, bmaj_deg=BMAJ, bmin_deg=BMIN, cell_deg=CELL,
                                      rms_jy=rms, sky=sky, epoch=epoch, drift=drift)
    assert [g["name"] for g in got] == ["BRIGHT", "ESE"] and blended == 2
    by = {g["name"]: g for g in got}
    assert by["BRIGHT"]["expect_jy"] == pytest.approx(0.5 * 1.05)
    assert by["BRIGHT"]["peak_jy"] / by["BRIGHT"]["expect_jy"] == pytest.approx(1.0, abs=1e-6)
    assert by["ESE"]["peak_jy"] / by["ESE"]["expect_jy"] == pytest.approx(1.02, abs=1e-6)
    assert by["BRIGHT"]["offset_beam"] == pytest.approx(0.3 * CELL / BMIN, abs=1e-6)
    assert by["BRIGHT"]["snr"] == pytest.approx(0.525 * 0.9 / rms)
    assert by["ESE"]["z"] == pytest.approx((by["ESE"]["peak_jy"] - by["ESE"]["expect_jy"]) / (rms / 0.9))


def test_thermal_noise_and_robust_from_the_qa_record():
    assert vimg.thermal_noise_jy(sefd_jy=5000.0, chan_width_hz=244e3, integration_s=12.88, n_samples=10_000) == \
        pytest.approx(5000 / math.sqrt(2 * 244e3 * 12.88) / 100)
    assert vimg.robust_of({"imaging": {"robust": -0.5}, "ms": "x.ms"}) == (-0.5, None)
    from dsa110_contimg.settings import load_settings

    robust, note = vimg.robust_of({"ms": "old.ms"})
    assert robust == load_settings().imaging.robust and "old.ms" in note and "default config" in note


def _image_record(group, sources, rms=1e-3, briggs=0.8e-3):
    return {"group": group, "backend": "tclean", "rms_jy": rms, "thermal_jy": 0.5e-3, "briggs_jy": briggs, "robust": 0.5,
            "note": None, "beam_arcsec": [61.4, 48.6], "sources": sources, "n_blended": 1}


def _rec(name, expect, peak, snr, off=0.1, pbv=0.9):
    return {"name": name, "expect_jy": expect, "peak_jy": peak, "offset_beam": off, "pb": pbv, "snr": snr,
            "z": (peak - expect) / (1e-3 / pbv), "sigma_frac": 1e-3 / pbv / expect}


def test_summarize_and_format_imaging():
    ims = [_image_record("g1", [_rec("A", 1.0, 1.01, 900.0), _rec("B", 0.1, 0.095, 90.0, off=0.2)]),
           _image_record("g2", [_rec("A", 1.0, 0.99, 900.0), _rec("B", 0.1, 0.094, 90.0)], rms=1.2e-3),
           _image_record("g3", [], briggs=1e-3)]
    s = vimg.summarize(ims)
    assert s["n"] == 4 and s["n_within"] == 2 and s["max_error_pct"] == pytest.approx(6.0)
    assert s["ratio_median"] == pytest.approx((0.95 + 0.99) / 2)
    assert s["snr100"] == {"n_within": 2, "n": 2, "max_error_pct": pytest.approx(1.0)}
    assert s["per_source"]["worst"] == "B" and s["per_source"]["worst_pct"] == pytest.approx(-5.5)
    assert s["per_source"]["n_within"] == 1 and s["n_blended"] == 3 and s["max_offset_beam"] == 0.2
    assert s["rms_ratio_min"] == pytest.approx(1.0) and s["rms_ratio_max"] == pytest.approx(1.5)
    lines = vimg.format_imaging({"images": ims, "summary": s})
    assert lines[0] == ("  g1 (tclean): rms 1.000 mJy = 2.00 x natural thermal (0.500 mJy) = 1.25 x thermal for the Briggs "
                        "weights used (0.800 mJy); beam 61x49 arcsec; 2 sources with SNR>50, pb>0.5")
    assert lines[1] == ("    A: 1.000 Jy injected, 1.010 Jy measured (+1.0%), offset 0.100 beam, pb 0.90\n"
                        "    B: 0.100 Jy injected, 0.095 Jy measured (-5.0%), offset 0.200 beam, pb 0.90")
    assert lines[5] == ""  # an image without checked sources prints an empty line
    assert lines[6] == "  all: flux ratio median 0.970, max |error| 6.0%, 2/4 within 3%, max offset 0.200 beam (n = 4)"
    assert lines[7] == "  SNR > 100: 2/2 within 3%, max |error| 1.0%"
    assert lines[9] == "  per source, median over epochs: 1/2 within 3%, worst B -5.5%"
    assert lines[10] == "  (3 source-images with a neighbour within 1.5 BMAJ left out)"
    assert vimg.summarize([_image_record("g", [])]) is None
    assert vimg.format_imaging({"images": [], "summary": None}) == []


# ----------------------------------------------------------------------------- photometry


def _phot_inputs():
    groups = [f"2026-01-{15 + e:02d}T09:00:00" for e in range(5)]
    drift = [1.0, 1.02, 0.97, 1.01, 0.99]
    sky = [{"name": f"S{k}", "ra_deg": 150.0 + 0.1 * k, "dec_deg": 55.0, "flux_jy": 0.1} for k in range(5)]
    sky[4]["lightcurve"] = [1, 1, 0.7, 1, 1]
    truth = {"seed": 7, "ese_source": "S4", "science_scale": drift, "sky": sky,
             "groups": [{"group_id": g, "epoch": e} for e, g in enumerate(groups)]}
    corr = pd.DataFrame({"group": groups, "mjd": 61055.375 + np.arange(5), "correction": [0.98 * d for d in drift], "correction_err": 0.002,
                         "n_refs": 3, "corrected": [True, True, True, True, False]})
    corr.loc[4, "correction"] = np.nan
    var = pd.DataFrame({
        "source_id": ["J0", "J1", "J2", "J3", "J4", "JX"],
        "ra_deg": [150.0, 150.1, 150.2 + 5 / 3600 / math.cos(math.radians(55)), 150.3, 150.4, 151.0],
        "dec_deg": 55.0, "median_snr": [200.0, 80.0, 60.0, 20.0, 100.0, 300.0],
        "chi2_nu": [1.0, 2.0, 0.8, 10.0, 50.0, 1.0], "V": 0.01, "n_epochs": 4,
        "is_reference": [True, True, False, False, False, False],
        "ese_candidate": [False, False, False, True, True, False], "significance": [0.0, 0.0, 0.0, 6.0, 12.5, 0.0],
    })
    return corr, var, truth


def test_match_truth_nearest_within_radius():
    _, var, truth = _phot_inputs()
    m = vphot.match_truth(var, truth["sky"])
    assert {k: v["name"] for k, v in m.items()} == {"J0": "S0", "J1": "S1", "J2": "S2", "J3": "S3", "J4": "S4"}
    assert vphot.match_truth(var, truth["sky"], radius_arcsec=4.0).keys() == {"J0", "J1", "J3", "J4"}


def test_check_photometry_summary_and_format():
    corr, var, truth = _phot_inputs()
    c = vphot.check_photometry(corr, var, truth, run="runX")
    s = c.summary
    assert s["epochs_corrected"] == 4 and s["epochs_total"] == 5
    assert s["correction_vs_injected_rms"] == pytest.approx(0.0, abs=1e-12) and c.ratio_median == pytest.approx(0.98)
    assert s["n_stable_snr50"] == 3 and s["chi2_nu_median_stable_snr50"] == 1.0
    assert s["chi2_nu_median_stable_snr50_references"] == 1.5 and s["chi2_nu_median_stable_snr50_non_references"] == 0.8
    assert s["n_stable_snr50_non_references"] == 1 and s["chi2_nu_median_stable_all"] == 1.5
    assert s["ese_flagged"] and s["ese_significance"] == 12.5 and s["stable_flagged"] == ["J3"]
    assert s["unmatched"] == 1 and s["n_sources"] == 6 and s["seed"] == 7
    lines = vphot.format_photometry(c)
    assert lines[0] == "runX (seed 7):"
    assert lines[1] == "  corrections: 4/5 epochs corrected; rms difference from the injected drift 0.00% (goal < 0.5%)"
    assert lines[3] == ("    2026-01-16T09:00:00: correction 0.9996 +- 0.0020, injected drift 1.0200, ratio/median 1.0000 (3 refs)")
    assert lines[6] == "  stable sources with SNR > 50: 3, chi2_nu median 1.00 (goal 0.7-1.5)"
    assert lines[7:10] == ["    J2: SNR 60, chi2_nu 0.80, V 0.0100, n 4", "    J1: SNR 80, chi2_nu 2.00, V 0.0100, n 4 (reference)",
                           "    J0: SNR 200, chi2_nu 1.00, V 0.0100, n 4 (reference)"]
    assert lines[-1] == "  ESE source S4: flagged True (significance 12.5); stable sources flagged: 1 ['J3']"
    # a correction off the injected drift by 1% in one epoch shows in the rms
    corr.loc[1, "correction"] *= 1.01
    assert vphot.check_photometry(corr, var, truth, run="r").summary["correction_vs_injected_rms"] > 0.004


def test_check_run_writes_summary_and_plot(tmp_path):
    corr, var, truth = _phot_inputs()
    run = tmp_path / "run"
    (run / "sim").mkdir(parents=True)
    (run / "photometry").mkdir()
    (run / "sim" / "truth.json").write_text(json.dumps(truth))
    corr.to_csv(run / "photometry" / "corrections.csv", index=False)
    var.to_csv(run / "photometry" / "variability.csv", index=False)
    c = vphot.check_run(str(run))
    on_disk = json.loads((run / "photometry" / "truth_check.json").read_text())
    assert on_disk["stable_flagged"] == ["J3"] and on_disk["run"] == str(run)
    assert os.path.getsize(on_disk["plot"]) > 1000 and on_disk == json.loads(json.dumps(c.summary))
