"""Ensemble flux normalisation against injected truth (synthetic measurements, no CASA)."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest

from dsa110_contimg.photometry.normalize import normalize
from dsa110_contimg.photometry.plots import plot_corrections, plot_lightcurves
from dsa110_contimg.photometry.variability import variability_table
from dsa110_contimg.settings import Settings

N_EPOCHS = 20
N_REFS = 15
N_TARGETS = 6
BASELINE = 10
REFS = [f"ref{k:02d}" for k in range(N_REFS)]
# the schema's photometry settings, with the plain (unweighted) clipped median and no V cut
PHOT = dataclasses.replace(Settings.from_config({}).photometry, baseline_epochs=BASELINE, weighted_median=False, v_min=0.0)


def simulate(seed: int = 7, dip: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Measurements of N_REFS stable references + N_TARGETS stable targets over N_EPOCHS.

    Epoch e multiplies every true flux by ``scale[e]`` (a few-% drift); Gaussian noise
    with the known error sigma = sqrt((1 mJy)^2 + (1% S)^2) is added.  ``dip`` maps
    source_id -> (first epoch, last epoch, factor) for an injected flux dip.
    Returns the table (concatenated per-epoch frames, so the index repeats) and scale.
    """
    rng = np.random.default_rng(seed)
    e = np.arange(N_EPOCHS)
    scale = 1.0 + 0.04 * np.sin(2 * np.pi * e / 13.0) + rng.normal(0.0, 0.015, N_EPOCHS)
    ids = REFS + [f"tgt{k}" for k in range(N_TARGETS)]
    true = dict(zip(ids, rng.uniform(0.05, 1.0, len(ids))))
    frames = []
    for i in e:
        rows = []
        for sid, s in true.items():
            f = s
            if dip and sid in dip and dip[sid][0] <= i <= dip[sid][1]:
                f = s * dip[sid][2]
            err = float(np.hypot(1e-3, 0.01 * s))
            rows.append({"source_id": sid, "ra_deg": 10.0, "dec_deg": 40.0, "mjd": 61000.0 + 3.0 * i,
                             "group": f"2026-01-{i + 1:02d}T09:13:01", "flux_jy": f * scale[i] + rng.normal(0, err),
                             "flux_err_jy": err, "rms_jy": 1e-3, "pb": 0.9, "snr": f / err, "flags": ""})
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames), scale


def truth_correction(scale: np.ndarray) -> np.ndarray:
    """Injected drift relative to its median over the baseline epochs."""
    return scale / np.median(scale[:BASELINE])


def test_recovers_injected_drift():
    meas, scale = simulate()
    res = normalize(meas, REFS, photometry=PHOT)
    ep = res.epochs
    assert len(ep) == N_EPOCHS and ep["corrected"].all() and (ep["reason"] == "").all()
    assert list(ep["mjd"]) == sorted(ep["mjd"])
    truth = truth_correction(scale)
    diff = ep["correction"].to_numpy() - truth
    # expected precision: 1.2533 * ~1.1% / sqrt(15) ~ 0.0035 per epoch (+ a small common offset)
    assert np.std(truth) > 0.02                      # the drift is large compared with the tolerance
    assert np.sqrt(np.mean(diff**2)) < 0.006
    assert np.max(np.abs(diff)) < 0.015
    # the quoted errors describe the actual scatter
    ratio = np.std(diff) / np.sqrt(np.mean(ep["correction_err"] ** 2))
    assert 0.5 < ratio < 2.0
    assert res.dropped_refs.empty


def test_normalised_stable_sources_have_unit_chi2():
    meas, _ = simulate()
    res = normalize(meas, REFS, photometry=PHOT)
    var = variability_table(res.table, photometry=PHOT)
    assert len(var) == N_REFS + N_TARGETS
    assert 0.7 <= var["chi2_nu"].median() <= 1.5
    assert not var["ese_candidate"].any()
    # raw (unnormalised) light curves are far from constant: the normalisation did the work
    raw = variability_table(res.table, flux_col="flux_jy", err_col="flux_err_jy", photometry=PHOT)
    assert raw["chi2_nu"].median() > 5.0


def test_norm_error_formula_and_leave_one_out():
    meas, _ = simulate()
    res = normalize(meas, REFS, photometry=PHOT)
    t = res.table.reset_index(drop=True)
    # a target row: norm = S / C and |S/C| sqrt((e/S)^2 + (eC/C)^2), C from the epoch table
    row = t[(t["source_id"] == "tgt2")].iloc[4]
    epoch = res.epochs.set_index("group").loc[row["group"]]
    assert row["correction"] == pytest.approx(epoch["correction"])
    s, e, c, ce = row["flux_jy"], row["flux_err_jy"], epoch["correction"], epoch["correction_err"]
    assert row["norm_flux_jy"] == pytest.approx(s / c)
    assert row["norm_err_jy"] == pytest.approx(abs(s / c) * ((e / s) ** 2 + (ce / c) ** 2) ** 0.5)
    # a reference row is corrected by the median ratio of the OTHER references
    g = row["group"]
    assert epoch["n_clipped"] == 0
    base = {r: float(np.median(t[t["source_id"] == r].sort_values("mjd")["flux_jy"].iloc[:BASELINE])) for r in REFS}
    here = t[t["group"] == g].set_index("source_id")
    others = [here.loc[r, "flux_jy"] / base[r] for r in REFS if r != "ref03"]
    assert here.loc["ref03", "correction"] == pytest.approx(float(np.median(others)))
    assert here.loc["ref03", "is_reference"] and not here.loc["tgt2", "is_reference"]


def test_variable_reference_dropped_and_reported():
    meas, scale = simulate(dip={"ref05": (12, 16, 0.7), "tgt1": (8, 13, 0.7)})
    res = normalize(meas, REFS, photometry=PHOT)
    d = res.dropped_refs
    assert list(d["source_id"]) == ["ref05"]
    assert d["chi2_nu"].iloc[0] > 5.0 and "ref_chi2_max" in d["reason"].iloc[0]
    t = res.table
    assert not t.loc[t["source_id"] == "ref05", "is_reference"].any()
    assert t.loc[t["source_id"] == "ref00", "is_reference"].all()
    diff = res.epochs["correction"].to_numpy() - truth_correction(scale)
    assert np.max(np.abs(diff)) < 0.015
    var = variability_table(t, photometry=PHOT).set_index("source_id")
    assert var.loc["tgt1", "ese_candidate"] and var.loc["ref05", "ese_candidate"]
    assert var["ese_candidate"].sum() == 2
    # normalised depth of the dip matches the injected 30 %
    tgt = t[t["source_id"] == "tgt1"].sort_values("mjd")["norm_flux_jy"].to_numpy()
    assert np.median(tgt[8:14]) / np.median(tgt[:8]) == pytest.approx(0.7, abs=0.02)


def test_too_few_references_leaves_everything_uncorrected(caplog):
    meas, _ = simulate()
    with caplog.at_level(logging.WARNING, logger="dsa110_contimg.photometry.normalize"):
        res = normalize(meas, ["ref00", "ref01", "nope"], photometry=PHOT)
    assert not res.epochs["corrected"].any()
    assert res.epochs["correction"].isna().all()
    assert all("only 2 usable reference sources" in r and "min_refs 3" in r for r in res.epochs["reason"])
    assert res.table["norm_flux_jy"].isna().all() and not res.table["corrected"].any()
    assert "not in measurements" in res.dropped_refs.set_index("source_id").loc["nope", "reason"]
    assert any("only 2 usable reference sources" in r.getMessage() for r in caplog.records)
    var = variability_table(res.table, photometry=PHOT)
    assert (var["n_epochs"] == 0).all() and not var["ese_candidate"].any()


def test_epoch_with_two_references_is_uncorrected():
    meas, scale = simulate()
    meas = meas.reset_index(drop=True)
    bad_group = meas["group"].unique()[7]
    in_epoch = meas["group"] == bad_group
    # 10 references missing from that image, 3 more flagged: only ref00, ref01 usable
    meas = meas[~(in_epoch & meas["source_id"].isin(REFS[5:]))].copy()
    meas.loc[(meas["group"] == bad_group) & meas["source_id"].isin(REFS[2:5]), "flags"] = "edge"
    res = normalize(meas, REFS, photometry=PHOT)
    ep = res.epochs.set_index("group")
    assert not ep.loc[bad_group, "corrected"]
    assert ep.loc[bad_group, "reason"] == "only 2 references (< min_refs 3)"
    assert ep.drop(index=bad_group)["corrected"].all()
    t = res.table
    assert t.loc[t["group"] == bad_group, "norm_flux_jy"].isna().all()
    assert t.loc[t["group"] != bad_group, "norm_flux_jy"].notna().all()
    diff = ep.drop(index=bad_group)["correction"].to_numpy() - np.delete(truth_correction(scale), 7)
    assert np.max(np.abs(diff)) < 0.015


def test_missing_epoch_is_a_gap(tmp_path):
    meas, scale = simulate()
    meas = meas.reset_index(drop=True)
    gone = meas["group"].unique()[5]
    meas = meas[~((meas["source_id"] == "tgt0") & (meas["group"] == gone))]
    res = normalize(meas, REFS, photometry=PHOT)
    assert res.epochs["corrected"].all() and len(res.epochs) == N_EPOCHS
    lc = res.table[res.table["source_id"] == "tgt0"]
    assert len(lc) == N_EPOCHS - 1 and gone not in set(lc["group"]) and lc["corrected"].all()
    var = variability_table(res.table, photometry=PHOT).set_index("source_id")
    assert var.loc["tgt0", "n_epochs"] == N_EPOCHS - 1
    assert var.loc["tgt1", "n_epochs"] == N_EPOCHS
    # plots: light curves (with the gap and an uncorrected epoch) and the corrections vs truth
    res2 = normalize(meas[~((meas["group"] == meas["group"].unique()[2]) & meas["source_id"].isin(REFS[2:]))],
                     REFS, photometry=PHOT)
    assert (~res2.epochs["corrected"]).sum() == 1
    out = plot_lightcurves(res2.table, ["tgt0", "tgt1", "ref00", "ref01"], str(tmp_path / "lc" / "lc.png"),
                           title="test")
    truth = dict(zip(res.epochs["group"], truth_correction(scale)))
    out2 = plot_corrections(res2.epochs, str(tmp_path / "corr.png"), truth=truth)
    for p in (out, out2):
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(x.name for x in tmp_path.rglob("*") if x.is_file()) == ["corr.png", "lc.png"]


def test_input_validation_and_index_preserved():
    meas, _ = simulate()
    with pytest.raises(ValueError, match="flux_err_jy"):
        normalize(meas.drop(columns=["flux_err_jy"]), REFS, photometry=PHOT)
    dup = pd.concat([meas, meas.iloc[:1]])
    with pytest.raises(ValueError, match="duplicate"):
        normalize(dup, REFS, photometry=PHOT)
    res = normalize(meas, REFS, photometry=PHOT)
    assert res.table.index.equals(meas.index)                      # repeated per-epoch index kept
    assert np.array_equal(res.table["flux_jy"].to_numpy(), meas["flux_jy"].to_numpy())
    assert list(res.table.columns[-6:]) == ["is_reference", "correction", "correction_err", "corrected",
                                            "norm_flux_jy", "norm_err_jy"]


def test_weighted_median_by_hand():
    from dsa110_contimg.photometry.normalize import clipped_median, weighted_median

    # weights 1, 1, 4: cumulative 1, 2, 6 -> half = 3 reached at the third value
    assert weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 4.0]) == 3.0
    # equal weights: the ordinary median, midpoint on an exact tie
    assert weighted_median([4.0, 1.0, 3.0, 2.0], [1, 1, 1, 1]) == 2.5
    # errors 0.01, 0.01, 0.005 -> w = 1e4, 1e4, 4e4; centre 1.02
    c, e, n = clipped_median([1.00, 1.01, 1.02], [0.01, 0.01, 0.005], clip_sigma=PHOT.clip_sigma, weighted=True)
    w = [1e4, 1e4, 4e4]
    chi = sum(wi * (x - 1.02) ** 2 for wi, x in zip(w, [1.00, 1.01, 1.02])) / 2
    assert (c, n) == (1.02, 3)
    assert e == pytest.approx(1.2533 * (max(chi, 1.0) / sum(w)) ** 0.5)


def test_error_model_recovers_scale_and_floor():
    """References whose true scatter is sqrt((0.6 sigma)^2 + (0.01 S)^2): both recovered."""
    from dsa110_contimg.photometry.normalize import error_model

    rng = np.random.default_rng(5)
    rows = []
    for k, flux in enumerate(np.geomspace(0.02, 2.0, 30)):
        sigma = 1e-3  # quoted error, the same for all
        true = np.hypot(0.6 * sigma, 0.01 * flux)
        for e, x in enumerate(flux + rng.normal(0, true, 60)):
            rows.append({"source_id": f"R{k}", "group": str(e), "norm_flux_jy": x, "norm_err_jy": sigma,
                         "is_reference": True, "flags": "", "corrected": True})
    a, b, recs = error_model(pd.DataFrame(rows), min_refs=PHOT.min_refs)
    assert a == pytest.approx(0.6, rel=0.15)
    assert b == pytest.approx(0.01, abs=0.002)
    assert len(recs) == 30
    assert np.median([r["chi2_nu_model"] for r in recs]) == pytest.approx(1.0, abs=0.2)
    # no references: identity model
    a0, b0, _ = error_model(pd.DataFrame(rows).assign(is_reference=False), min_refs=PHOT.min_refs)
    assert (a0, b0) == (1.0, 0.0)
