"""Ensemble (differential) flux normalisation of forced-photometry light curves.

The absolute flux scale of each image (= epoch, identified by ``group``) drifts by a
few per cent (calibration, primary beam, ionosphere).  The drift is common to all
sources of an image, so it is measured on an ensemble of stable reference sources
and divided out.

Algorithm
---------
1. Usable reference measurements: rows of ``reference_ids`` with ``flags == ''``,
   finite ``flux_jy`` and finite ``flux_err_jy > 0``.  Requested references absent
   from the table, without usable rows, or with a baseline <= 0 are reported in
   ``dropped_refs`` and never used.
2. Baseline of reference k: B_k = median flux of its first ``baseline_epochs`` usable
   measurements (ordered by mjd) - its own first epochs, so a reference missing from
   an early image still gets a baseline.  B_k is computed once and kept fixed.
3. Ratios: r_ke = S_ke / B_k with error sigma_ke / B_k (the baseline's own error is a
   constant factor per source and is ignored).
4. Per epoch e, correction C_e = sigma-clipped median of the r_ke: repeat {centre =
   median(r); scale = max(1.4826 * MAD(r), median(sigma_r), 1e-9 |centre|); keep
   |r - centre| <= clip_sigma * scale} until nothing changes.  The floor median(sigma_r)
   stops the clip from rejecting points that agree within their measurement errors
   (and avoids dividing by zero when ratios are identical).
   Error: sigma_C = 1.2533 * std(kept r, ddof=1) / sqrt(n) (1.2533 = sqrt(pi/2), the
   efficiency of the median for Gaussian data); with a single kept ratio its own
   error.  With ``weighted_median`` (the schema default) the centre is instead the
   inverse-variance weighted median of the kept ratios and sigma_C =
   1.2533 sqrt(max(chi2_nu, 1) / sum w): references of very different brightness then
   contribute according to their precision.  The epoch is corrected only if n (kept references) >= ``min_refs``;
   otherwise C_e = NaN and ``reason`` says why.
5. Normalised flux S' = S / C and error
   sigma' = |S'| sqrt((sigma/S)^2 + (sigma_C/C)^2), evaluated in the algebraically
   identical form sigma' = sqrt(sigma^2 + (S sigma_C / C)^2) / C, which stays finite
   for S = 0 (faint forced-photometry targets).  For uncorrected epochs (or rows that
   cannot be corrected) ``correction``, ``norm_flux_jy`` and ``norm_err_jy`` are NaN
   and ``corrected`` is False; the raw ``flux_jy`` is untouched.
6. Reference rows are normalised leave-one-out: a reference's own ratio is excluded
   from the correction applied to it (the clipped median of the *other* references,
   needing >= max(min_refs - 1, 1) of them).  Its normalised light curve is therefore
   independent of its own measurement, so its chi2_nu is an honest stability test and
   a varying reference cannot hide its own variation.  The ``correction`` column of
   such rows holds that leave-one-out factor (norm_flux_jy = flux_jy / correction
   holds for every row); the ``epochs`` table holds the full-ensemble factor.
7. For every reference in use, chi2_nu of its normalised light curve (usable rows of
   corrected epochs, about the weighted mean; see :mod:`.variability`).  References
   with chi2_nu > ``ref_chi2_max`` are dropped (reported with their chi2_nu and the
   iteration) and steps 4-7 repeat until none is dropped or ``max_iter`` iterations.

``is_reference`` marks all rows of the references in use in the final iteration.
If fewer than ``min_refs`` usable references exist at all, nothing raises: every
epoch is uncorrected with that reason and a warning is logged.
Corrections are relative to the reference baselines, i.e. to the mean flux scale of
the first ``baseline_epochs`` epochs (C ~ 1 there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..settings import Photometry
from .variability import chi2_nu

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("source_id", "group", "mjd", "flux_jy", "flux_err_jy", "flags")
MEDIAN_ERR_FACTOR = 1.2533  # sqrt(pi/2): std of the median / (std / sqrt(n)) for Gaussian data
MAD_TO_SIGMA = 1.4826


@dataclass
class NormResult:
    """Output of :func:`normalize`.

    table:        the measurements plus is_reference, correction, correction_err,
                  corrected, norm_flux_jy, norm_err_jy (NaN where uncorrected).
    epochs:       one row per group (by mjd): group, mjd, correction, correction_err,
                  n_refs (usable references kept after clipping; the number measured when
                  below min_refs before clipping), n_clipped, corrected, reason ('' if corrected).
    dropped_refs: source_id, chi2_nu, reason for each requested reference not used.
    """

    table: pd.DataFrame
    epochs: pd.DataFrame
    dropped_refs: pd.DataFrame


def weighted_median(x, w) -> float:
    """Median of ``x`` with weights ``w``: the value where the cumulative weight (in
    sorted order) reaches half the total; halfway between two values on an exact tie."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o]
    cum = np.cumsum(w)
    half = 0.5 * cum[-1]
    k = int(np.searchsorted(cum, half))
    if np.isclose(cum[k], half) and k + 1 < x.size:
        return float(0.5 * (x[k] + x[k + 1]))
    return float(x[k])


def clipped_median(ratios, ratio_errs, *, clip_sigma: float, weighted: bool,
                   max_iter: int = 20) -> tuple[float, float, int]:
    """Sigma-clipped median of ``ratios``: (centre, error, number kept); see module step 4.

    ``clip_sigma`` and ``weighted`` are ``photometry.clip_sigma`` and
    ``photometry.weighted_median`` in the workflow.

    ``weighted``: the centre is the inverse-variance weighted median (weights
    1/ratio_err^2), so bright references count more, and the error is
    1.2533 / sqrt(sum w) inflated by sqrt(chi2_nu) of the kept ratios about the centre
    when they scatter more than their errors.
    """
    r = np.asarray(ratios, dtype=float)
    er = np.asarray(ratio_errs, dtype=float)
    if r.size == 0:
        return float("nan"), float("nan"), 0
    keep = np.ones(r.size, dtype=bool)
    for _ in range(max_iter):
        x = r[keep]
        centre = np.median(x)
        scale = max(MAD_TO_SIGMA * np.median(np.abs(x - centre)), float(np.median(er[keep])), 1e-9 * abs(centre))
        new = np.abs(r - centre) <= clip_sigma * scale
        if not new.any() or np.array_equal(new, keep):
            break
        keep = new
    x = r[keep]
    n = int(x.size)
    centre = float(np.median(x))
    if weighted and n >= 1 and np.all(er[keep] > 0):
        w = 1.0 / er[keep] ** 2
        centre = weighted_median(x, w)
        chi = float(np.sum(w * (x - centre) ** 2) / (n - 1)) if n >= 2 else 1.0
        return centre, MEDIAN_ERR_FACTOR * float(np.sqrt(max(chi, 1.0) / np.sum(w))), n
    if n >= 2:
        err = MEDIAN_ERR_FACTOR * float(np.std(x, ddof=1)) / np.sqrt(n)
    else:
        err = float(er[keep][0])
    return centre, err, n


def _check(meas: pd.DataFrame, baseline_epochs: int, min_refs: int, clip_sigma: float, max_iter: int) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in meas.columns]
    if missing:
        raise ValueError(f"measurements table lacks required column(s) {missing}; has {list(meas.columns)}")
    if baseline_epochs < 1 or min_refs < 1 or max_iter < 1 or not clip_sigma > 0:
        raise ValueError("baseline_epochs, min_refs and max_iter must be >= 1 and clip_sigma > 0")
    dup = meas.duplicated(["source_id", "group"])
    if dup.any():
        first = meas.loc[dup, ["source_id", "group"]].iloc[0].tolist()
        raise ValueError(f"{int(dup.sum())} duplicate (source_id, group) rows, e.g. {first}")


def _solve(df: pd.DataFrame, rr: pd.DataFrame, epochs: pd.DataFrame, active: set[str],
           min_refs: int, clip_sigma: float, weighted: bool) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Epoch corrections and per-row (correction, error) for the active references.

    ``rr`` holds the usable reference rows (index = row position in ``df``) with columns
    source_id, group, ratio, ratio_err.
    """
    ep = epochs.copy()
    ep["correction"] = np.nan
    ep["correction_err"] = np.nan
    ep["n_refs"] = 0
    ep["n_clipped"] = 0
    ep["corrected"] = False
    ep["reason"] = ""
    rows_of = df.groupby("group", sort=False).indices  # group -> row positions (df has a RangeIndex)
    corr = np.full(len(df), np.nan)
    corr_err = np.full(len(df), np.nan)
    use = rr[rr["source_id"].isin(active)]
    by_group = dict(tuple(use.groupby("group", sort=False)))
    loo_min = max(min_refs - 1, 1)
    for i, g in enumerate(ep["group"]):
        sub = by_group.get(g)
        n_meas = 0 if sub is None else len(sub)
        if n_meas < min_refs:
            ep.iat[i, ep.columns.get_loc("n_refs")] = n_meas
            ep.iat[i, ep.columns.get_loc("reason")] = f"only {n_meas} references (< min_refs {min_refs})"
            continue
        r, er = sub["ratio"].to_numpy(), sub["ratio_err"].to_numpy()
        c, ce, n = clipped_median(r, er, clip_sigma=clip_sigma, weighted=weighted)
        ep.iat[i, ep.columns.get_loc("n_refs")] = n
        ep.iat[i, ep.columns.get_loc("n_clipped")] = n_meas - n
        if n < min_refs:
            ep.iat[i, ep.columns.get_loc("reason")] = (
                f"only {n} references after {clip_sigma:g}-sigma clipping (< min_refs {min_refs})")
            continue
        ep.iat[i, ep.columns.get_loc("correction")] = c
        ep.iat[i, ep.columns.get_loc("correction_err")] = ce
        ep.iat[i, ep.columns.get_loc("corrected")] = True
        rows = rows_of[g]
        corr[rows], corr_err[rows] = c, ce
        for j, label in enumerate(sub.index):  # leave-one-out for the references themselves
            others = np.arange(n_meas) != j
            cl, cel, nl = clipped_median(r[others], er[others], clip_sigma=clip_sigma, weighted=weighted)
            ok = nl >= loo_min
            corr[label] = cl if ok else np.nan
            corr_err[label] = cel if ok else np.nan
    return ep, corr, corr_err


def _apply(df: pd.DataFrame, corr: np.ndarray, corr_err: np.ndarray) -> pd.DataFrame:
    """Add correction, correction_err, corrected, norm_flux_jy, norm_err_jy (module step 5)."""
    out = df.copy()
    s = out["flux_jy"].to_numpy(dtype=float)
    e = out["flux_err_jy"].to_numpy(dtype=float)
    out["correction"] = corr
    out["correction_err"] = corr_err
    out["corrected"] = np.isfinite(corr)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["norm_flux_jy"] = s / corr
        out["norm_err_jy"] = np.sqrt(e**2 + (s * corr_err / corr) ** 2) / corr
    return out


def normalize(
    meas: pd.DataFrame,
    reference_ids: Iterable[str],
    *,
    photometry: Photometry,
    max_iter: int = 5,
) -> NormResult:
    """Divide each epoch's flux scale drift out of ``meas`` using stable references.

    ``photometry`` gives ``baseline_epochs``, ``min_refs``, ``clip_sigma``,
    ``ref_chi2_max`` and ``weighted_median`` (the ``weighted`` centre of step 4).
    See the module docstring for the algorithm and conventions.  Raises ValueError
    when a required column (:data:`REQUIRED_COLUMNS`) is missing or a
    (source_id, group) pair occurs twice.
    """
    baseline_epochs, min_refs, clip_sigma = photometry.baseline_epochs, photometry.min_refs, photometry.clip_sigma
    ref_chi2_max, weighted = photometry.ref_chi2_max, photometry.weighted_median
    _check(meas, baseline_epochs, min_refs, clip_sigma, max_iter)
    df = meas.reset_index(drop=True)
    df["source_id"] = df["source_id"].astype(str)
    df["group"] = df["group"].astype(str)
    flags = df["flags"].fillna("").astype(str).str.strip()
    flux = df["flux_jy"].to_numpy(dtype=float)
    err = df["flux_err_jy"].to_numpy(dtype=float)
    usable = (flags == "").to_numpy() & np.isfinite(flux) & np.isfinite(err) & (err > 0)

    epochs = (df.groupby("group", sort=False)["mjd"].median().rename("mjd").reset_index()
              .sort_values(["mjd", "group"], kind="stable").reset_index(drop=True))

    ref_ids = list(dict.fromkeys(str(r) for r in reference_ids))
    dropped: list[dict] = []
    present = set(df["source_id"])
    rr = df.loc[usable & df["source_id"].isin(ref_ids).to_numpy(), ["source_id", "group", "mjd", "flux_jy", "flux_err_jy"]]
    baseline = (rr.sort_values("mjd", kind="stable").groupby("source_id")
                .head(baseline_epochs).groupby("source_id")["flux_jy"].median())
    active: set[str] = set()
    for r in ref_ids:
        if r not in present:
            dropped.append({"source_id": r, "chi2_nu": np.nan, "reason": "not in measurements"})
        elif r not in baseline.index:
            dropped.append({"source_id": r, "chi2_nu": np.nan, "reason": "no unflagged finite measurements"})
        elif not baseline[r] > 0:
            dropped.append({"source_id": r, "chi2_nu": np.nan, "reason": f"non-positive baseline {baseline[r]:.4g} Jy"})
        else:
            active.add(r)
    rr = rr[rr["source_id"].isin(active)].copy()
    b = rr["source_id"].map(baseline).to_numpy(dtype=float)
    rr["ratio"] = rr["flux_jy"].to_numpy(dtype=float) / b
    rr["ratio_err"] = rr["flux_err_jy"].to_numpy(dtype=float) / b

    if len(active) < min_refs:
        reason = f"only {len(active)} usable reference sources in total (< min_refs {min_refs})"
        log.warning("flux normalisation impossible: %s; all %d epochs left uncorrected", reason, len(epochs))
        ep = epochs.assign(correction=np.nan, correction_err=np.nan, n_refs=0, n_clipped=0,
                           corrected=False, reason=reason)
        table = _apply(df, np.full(len(df), np.nan), np.full(len(df), np.nan))
        table["is_reference"] = df["source_id"].isin(active).to_numpy()
        return NormResult(_order(table, meas.index), ep, _dropped_frame(dropped))

    for it in range(1, max_iter + 1):
        ep, corr, corr_err = _solve(df, rr, epochs, active, min_refs, clip_sigma, weighted)
        table = _apply(df, corr, corr_err)
        bad = {}
        for r in sorted(active):
            sel = (table["source_id"] == r).to_numpy() & usable
            x = chi2_nu(table["norm_flux_jy"].to_numpy()[sel], table["norm_err_jy"].to_numpy()[sel])
            if x > ref_chi2_max:
                bad[r] = x
        if not bad:
            break
        for r, x in bad.items():
            log.info("dropping reference %s: chi2_nu %.2f > %g (iteration %d)", r, x, ref_chi2_max, it)
            dropped.append({"source_id": r, "chi2_nu": x,
                            "reason": f"chi2_nu {x:.2f} > ref_chi2_max {ref_chi2_max:g} (iteration {it})"})
        active -= set(bad)
        if it == max_iter:
            log.warning("reference selection did not converge in max_iter=%d iterations", max_iter)
            ep, corr, corr_err = _solve(df, rr, epochs, active, min_refs, clip_sigma, weighted)
            table = _apply(df, corr, corr_err)
    if len(active) < min_refs:
        log.warning("only %d references left after dropping variable ones (< min_refs %d)", len(active), min_refs)
    n_bad = int((~ep["corrected"]).sum())
    if n_bad:
        log.warning("%d of %d epochs left uncorrected", n_bad, len(ep))
    table["is_reference"] = table["source_id"].isin(active).to_numpy()
    return NormResult(_order(table, meas.index), ep, _dropped_frame(dropped))


def _order(table: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """New columns last, original row order and index restored."""
    cols = ["is_reference", "correction", "correction_err", "corrected", "norm_flux_jy", "norm_err_jy"]
    out = table[[c for c in table.columns if c not in cols] + cols]
    out.index = index
    return out


def _dropped_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source_id", "chi2_nu", "reason"]).astype({"chi2_nu": float})



def error_model(table: pd.DataFrame, *, min_refs: int, max_floor: float = 0.03,
                step: float = 0.0005) -> tuple[float, float, list[dict]]:
    """Error model calibrated on the reference ensemble: sigma'^2 = (a sigma)^2 + (b S)^2.

    ``sigma`` is a measurement's normalised error (``norm_err_jy``) and ``S`` its
    normalised flux.  Forced-photometry errors are measured on each image alone (the
    blank-sky scatter of the matched filter near the source), which (1) includes
    sidelobe and deconvolution structure that repeats identically every day for a
    transit instrument (same sky, same uv coverage) -- errors too large, a < 1 -- and
    (2) misses per-epoch direction-dependent errors that scale with the source (residual
    antenna gain errors between the calibrator transit and the science group) -- a
    fractional floor b.  The references are stable by selection, so their light curves
    calibrate both: for each reference k with n_k >= 3 usable epochs, the observed
    variance v_k about its weighted mean is compared with the model
    m_k(a, b) = a^2 <sigma^2>_k + b^2 <S>_k^2.  For each b on a grid 0..``max_floor``
    (``step``), a^2 = median_k((v_k - b^2 <S>_k^2) / <sigma^2>_k) (>= 0); the pair
    minimising sum_k ln(v_k / m_k)^2 wins (so chi2_nu of the references scatters about 1
    at every brightness).  Returns (a, b, per-reference records); (1, 0, []) with fewer
    than ``min_refs`` references.
    """
    ok = table["is_reference"].astype(bool) & (table["flags"].fillna("").astype(str).str.strip() == "") & table["corrected"].astype(bool)
    recs = []
    for sid, g in table[ok].groupby("source_id"):
        f, e = g["norm_flux_jy"].to_numpy(float), g["norm_err_jy"].to_numpy(float)
        good = np.isfinite(f) & np.isfinite(e) & (e > 0)
        f, e = f[good], e[good]
        if f.size < 3:
            continue
        w = 1.0 / e**2
        mu = np.sum(w * f) / np.sum(w)
        recs.append({"source_id": sid, "v": float(np.sum((f - mu) ** 2) / (f.size - 1)), "s2": float(np.mean(e**2)),
                     "flux": float(mu), "chi2_nu_raw": float(chi2_nu(f, e))})
    if len(recs) < min_refs:
        return 1.0, 0.0, recs
    v = np.array([r["v"] for r in recs])
    s2 = np.array([r["s2"] for r in recs])
    f2 = np.array([r["flux"] for r in recs]) ** 2
    best = None
    for b in np.arange(0.0, max_floor + step / 2, step):
        a2 = max(float(np.median((v - b**2 * f2) / s2)), 0.0)
        m = a2 * s2 + b**2 * f2
        if np.any(m <= 0):
            continue
        cost = float(np.sum(np.log(np.maximum(v, 1e-300) / m) ** 2))
        if best is None or cost < best[0]:
            best = (cost, float(np.sqrt(a2)), float(b))
    _, a, b = best
    for r in recs:
        r["chi2_nu_model"] = r["v"] / (a**2 * r["s2"] + b**2 * r["flux"] ** 2)
    return a, b, recs

