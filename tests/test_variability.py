"""Variability metrics against hand computations, and the ESE flag on injected dips vs noise."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from dsa110_contimg.photometry.plots import plot_chi2_eta
from dsa110_contimg.photometry.variability import (
    SIGMA_CAP,
    candidates,
    chi2_sigma,
    source_metrics,
    variability_table,
)
from dsa110_contimg.settings import Settings

# the schema's photometry settings without the modulation-index cut
PHOT = dataclasses.replace(Settings.from_config({}).photometry, v_min=0.0)

S = [1.0, 1.2, 0.9, 1.1]       # Jy
E = [0.1, 0.2, 0.1, 0.1]       # Jy
G = ["a", "b", "c", "d"]


def test_basic_metrics_by_hand():
    m = source_metrics(S, E, G)
    n = 4
    mean = (1.0 + 1.2 + 0.9 + 1.1) / 4                                       # 1.05
    std = math.sqrt(sum((x - mean) ** 2 for x in S) / (n - 1))
    w = [1 / e**2 for e in E]                                                # 100, 25, 100, 100
    sw = sum(wi * x for wi, x in zip(w, S)) / sum(w)                         # 330 / 325
    chi2 = sum(((x - sw) / e) ** 2 for x, e in zip(S, E)) / (n - 1)
    assert m["n_epochs"] == 4
    assert m["mean"] == pytest.approx(mean)
    assert m["std"] == pytest.approx(std)
    assert m["wmean"] == pytest.approx(330 / 325)
    assert m["wmean_err"] == pytest.approx(1 / math.sqrt(325))
    assert m["chi2_nu"] == pytest.approx(chi2)
    assert m["V"] == pytest.approx(std / mean)
    # eta from its own (VAST) formula, by hand, and the identity eta == chi2_nu
    mw = sum(w) / n
    mws = sum(wi * x for wi, x in zip(w, S)) / n
    mws2 = sum(wi * x * x for wi, x in zip(w, S)) / n
    eta = n / (n - 1) * (mws2 - mws**2 / mw)
    assert m["eta"] == pytest.approx(eta)
    assert eta == pytest.approx(chi2)


def test_eta_equals_chi2_nu_on_random_curves():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 30))
        err = rng.uniform(0.005, 0.05, n)
        flux = rng.normal(0.3, 0.05, n)
        m = source_metrics(flux, err)
        assert m["eta"] == pytest.approx(m["chi2_nu"], rel=1e-9)


def test_two_epoch_pair_is_chosen_by_vs_not_by_flux_difference():
    m = source_metrics(S, E, G)
    # |Vs| by hand: (b,c) has the largest flux difference 0.3 but |Vs| = 0.3/sqrt(0.05) = 1.342;
    # (c,d) has 0.2 / sqrt(0.02) = 1.414, the maximum
    vs = {(G[i], G[j]): (S[i] - S[j]) / math.sqrt(E[i] ** 2 + E[j] ** 2) for i in range(4) for j in range(i + 1, 4)}
    best = max(vs, key=lambda k: abs(vs[k]))
    assert best == ("c", "d")
    assert (m["pair_a"], m["pair_b"]) == best
    assert m["vs_max"] == pytest.approx(0.2 / math.sqrt(0.02))
    assert m["m_pair"] == pytest.approx(2 * (0.9 - 1.1) / (0.9 + 1.1))       # -0.2: flux rose from c to d


def test_sigma_dev_is_leave_one_out():
    flux = [1.0, 1.0, 1.0, 1.0, 0.6]
    err = [0.02] * 5
    m = source_metrics(flux, err, list("pqrst"))
    best, at = 0.0, None
    for i in range(5):
        w = [1 / err[j] ** 2 for j in range(5) if j != i]
        s = [flux[j] for j in range(5) if j != i]
        mu = sum(a * b for a, b in zip(w, s)) / sum(w)
        dev = abs(flux[i] - mu) / math.sqrt(err[i] ** 2 + 1 / sum(w))
        if dev > best:
            best, at = dev, "pqrst"[i]
    assert at == "t"
    assert m["sigma_dev"] == pytest.approx(best)                             # 0.4 / sqrt(4e-4 + 1e-4) = 17.9
    assert m["sigma_dev"] == pytest.approx(0.4 / math.sqrt(0.0004 + 0.0001))
    assert m["sigma_dev_at"] == "t"
    # including the point in the mean would dilute it: (0.4 - 0.08) / 0.02 = 16 < 17.9
    assert m["sigma_dev"] > (0.4 - 0.4 / 5) / 0.02


def test_chi2_sigma_by_hand_and_cap():
    # 3 points -> 2 dof, where chi2.sf(x, 2) = exp(-x/2)
    chi2_nu = 6.0
    p = math.exp(-chi2_nu * 2 / 2)
    expected = NormalDist().inv_cdf(1 - p)
    assert chi2_sigma(chi2_nu, 3) == pytest.approx(expected, rel=1e-6)
    assert chi2_sigma(1e6, 20) == SIGMA_CAP
    m = source_metrics([1.0, 1.0, 2.0], [0.01, 0.01, 0.01])
    assert m["chi2_sigma"] == SIGMA_CAP


def test_nan_points_are_ignored_and_small_n():
    a = source_metrics([1.0, np.nan, 1.2, 0.9, 1.1], [0.1, 0.1, 0.2, np.nan, 0.1])
    b = source_metrics([1.0, 1.2, 1.1], [0.1, 0.2, 0.1])
    for k in ("n_epochs", "mean", "std", "wmean", "chi2_nu", "eta", "vs_max", "sigma_dev"):
        assert a[k] == pytest.approx(b[k])
    one = source_metrics([1.0, np.nan], [0.1, 0.1])
    assert one["n_epochs"] == 1 and one["mean"] == 1.0 and math.isnan(one["chi2_nu"])
    assert source_metrics([], [])["n_epochs"] == 0


def _lc_table(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for sid, (f, e) in curves.items():
        for i, (fi, ei) in enumerate(zip(f, e)):
            rows.append({"source_id": sid, "mjd": 60000.0 + i, "group": f"g{i:02d}", "norm_flux_jy": fi,
                             "norm_err_jy": ei, "flags": "", "is_reference": sid.startswith("ref")})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)            # shuffled: table sorts by mjd


def test_ese_flag_dip_versus_pure_noise(tmp_path):
    rng = np.random.default_rng(11)
    n = 20
    curves = {}
    for k in range(200):
        err = np.full(n, 0.01) * rng.uniform(0.5, 2.0)
        curves[f"noise{k:03d}"] = (1.0 + rng.normal(0, err), err)
    for k in range(3):
        curves[f"ref{k}"] = (0.5 + rng.normal(0, 0.005, n), np.full(n, 0.005))
    truth = np.ones(n)
    truth[8:14] = 0.7                                                        # 30 % dip over 6 epochs
    curves["ese"] = (truth + rng.normal(0, 0.01, n), np.full(n, 0.01))
    one = np.ones(n)
    one[15] = 0.7                                                            # single-epoch 30 % dip
    curves["spike"] = (one + rng.normal(0, 0.01, n), np.full(n, 0.01))
    short = np.array([1.0, 0.7, 1.0, 0.7])                                   # variable but < min_epochs
    curves["short"] = (short, np.full(4, 0.01))
    var = variability_table(_lc_table(curves), photometry=PHOT)
    v = var.set_index("source_id")
    assert v.loc["ese", "ese_candidate"] and v.loc["spike", "ese_candidate"]
    assert v.loc["spike", "sigma_dev_at"] == "g15" and v.loc["spike", "sigma_dev"] > 20
    in_dip = [("g08" <= v.loc["ese", k] <= "g13") for k in ("pair_a", "pair_b")]
    assert sum(in_dip) == 1                                                  # the pair spans a dip edge
    assert abs(v.loc["ese", "m_pair"]) == pytest.approx(2 * 0.3 / 1.7, abs=0.05)
    assert not v.loc["short", "ese_candidate"] and v.loc["short", "chi2_nu"] > 100
    noise = v[v.index.str.startswith("noise")]
    assert not noise["ese_candidate"].any()
    assert 0.85 < noise["chi2_nu"].mean() < 1.15
    assert bool(v.loc["ref0", "is_reference"]) and not bool(v.loc["ese", "is_reference"])
    c = candidates(var)
    assert set(c["source_id"]) == {"ese", "spike"}
    assert c["significance"].is_monotonic_decreasing
    out = plot_chi2_eta(var, str(tmp_path / "eta_v.png"), chi2_nu_min=PHOT.chi2_nu_min)
    with open(out, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_flagged_rows_dropped_and_missing_column():
    f = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5])
    t = _lc_table({"x": (f, np.full(6, 0.01))}).sort_values("mjd")
    t.loc[t["group"] == "g05", "flags"] = "edge"
    v = variability_table(t, photometry=PHOT)
    assert v["n_epochs"].iloc[0] == 5 and not v["ese_candidate"].iloc[0]
    assert variability_table(t, photometry=PHOT, drop_flagged=False)["ese_candidate"].iloc[0]
    # 'blended' is informational: a joint fit is a measurement and stays in
    t.loc[t["group"] == "g05", "flags"] = "blended"
    v = variability_table(t, photometry=PHOT)
    assert v["n_epochs"].iloc[0] == 6 and v["ese_candidate"].iloc[0]
    with pytest.raises(ValueError, match="norm_err_jy"):
        variability_table(t.drop(columns=["norm_err_jy"]), photometry=PHOT)


def test_v_min_separates_small_significant_scatter_from_an_ese():
    """A bright source scattering by 1% with 0.3% errors is significant (chi2_nu >> 5) but
    not ESE-like; a 30% dip is both.  V by hand: std(ddof=1) / mean."""
    bright = np.array([1.00, 1.01, 0.99, 1.012, 0.988, 1.0])
    dip = np.array([1.0, 1.0, 0.7, 0.7, 1.0, 1.0])
    t = _lc_table({"bright": (bright, np.full(6, 0.003)), "dip": (dip, np.full(6, 0.01))})
    v = variability_table(t, photometry=dataclasses.replace(PHOT, v_min=0.05)).set_index("source_id")
    mean = sum(bright) / 6
    v_hand = (sum((x - mean) ** 2 for x in bright) / 5) ** 0.5 / mean
    assert v.loc["bright", "V"] == pytest.approx(v_hand)
    assert v.loc["bright", "chi2_nu"] > 5 and not v.loc["bright", "ese_candidate"]
    assert v.loc["dip", "ese_candidate"]
    assert variability_table(t, photometry=PHOT).set_index("source_id").loc["bright", "ese_candidate"]  # cut off: flagged
