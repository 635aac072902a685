"""Per-source variability metrics from (normalised) light curves, and ESE candidates.

A light curve is a set of flux densities ``S_i`` (Jy) with 1-sigma errors ``sigma_i``
(Jy), i = 1..n.  Points whose flux or error is not finite, or whose error is <= 0,
are ignored (this is how uncorrected epochs, whose normalised flux is NaN, drop out).
With weights ``w_i = 1 / sigma_i**2``:

- ``mean``   unweighted mean of S_i;  ``std`` sample standard deviation (ddof=1)
- ``wmean``  S_w = sum(w S) / sum(w);  ``wmean_err`` = 1 / sqrt(sum(w))
- ``chi2_nu`` = sum(((S_i - S_w) / sigma_i)**2) / (n - 1)   (constant-flux model)
- ``eta`` (VAST, Murphy et al. 2013; Rowlinson et al. 2019)
  = n/(n-1) * ( mean(w S**2) - mean(w S)**2 / mean(w) ).
  Expanding sum(w (S - S_w)**2) = sum(w S**2) - (sum(w S))**2 / sum(w) and dividing
  by n shows the bracket equals sum(w (S - S_w)**2) / n, so eta == chi2_nu exactly
  for this definition.  Both are computed independently here (the tests check it).
- ``V`` = std / mean  (modulation index / fractional variability)
- two-epoch metrics (Mooley et al. 2016): for every pair a < b (a earlier in the
  given order) ``Vs = (S_a - S_b) / sqrt(sigma_a**2 + sigma_b**2)`` and
  ``m = 2 (S_a - S_b) / (S_a + S_b)``.  The pair with the largest |Vs| is reported:
  ``vs_max`` = |Vs| of that pair, ``m_pair`` = its signed m (positive: flux fell from
  a to b), ``pair_a``/``pair_b`` = its two epoch labels (groups).
- ``sigma_dev`` = max_i |S_i - S_w^(-i)| / sqrt(sigma_i**2 + sigma_w^(-i)**2), where
  S_w^(-i) = (sum(w S) - w_i S_i) / (sum(w) - w_i) is the weighted mean of the other
  points and sigma_w^(-i) = 1 / sqrt(sum(w) - w_i) its error.  Leaving point i out
  means a single deviant point cannot pull the reference level towards itself; for a
  constant source with correct errors each term is a standard normal deviate.
  ``sigma_dev_at`` is the label of that point.
- ``chi2_sigma``: the Gaussian-equivalent significance of chi2 = chi2_nu (n-1) with n-1
  degrees of freedom, norm.isf(chi2.sf(chi2, n-1)), capped at ``SIGMA_CAP`` (the
  p-value underflows to 0 beyond ~38 sigma).  Negative for chi2_nu < ~1.
- ``significance`` = max(sigma_dev, chi2_sigma).

ESE candidate: n_epochs >= min_epochs AND (chi2_nu > chi2_nu_min OR sigma_dev > sigma_dev_min)
AND V >= v_min.  The last cut is the amplitude half of the usual eta-V selection: an
extreme scattering event changes the flux by 10-50%, while a bright stable source can be
formally significant at the 1% level from residual systematics (v_min = 0 disables it).
Metrics needing n >= 2 are NaN below that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..settings import Photometry

SIGMA_CAP = 40.0

METRIC_COLUMNS = [
    "n_epochs", "mean", "std", "wmean", "wmean_err", "chi2_nu", "eta", "V",
    "vs_max", "m_pair", "pair_a", "pair_b", "sigma_dev", "sigma_dev_at", "chi2_sigma",
]


def _clean(flux, err) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays of the usable points (finite flux, finite err > 0) and their mask."""
    s = np.asarray(flux, dtype=float)
    e = np.asarray(err, dtype=float)
    if s.shape != e.shape:
        raise ValueError(f"flux and err lengths differ: {s.shape} vs {e.shape}")
    ok = np.isfinite(s) & np.isfinite(e) & (e > 0)
    return s[ok], e[ok], ok


def chi2_nu(flux, err) -> float:
    """Reduced chi^2 about the weighted mean: sum(((S - S_w)/sigma)^2)/(n-1); NaN if n < 2."""
    s, e, _ = _clean(flux, err)
    if s.size < 2:
        return float("nan")
    w = 1.0 / e**2
    sw = np.sum(w * s) / np.sum(w)
    return float(np.sum(((s - sw) / e) ** 2) / (s.size - 1))


def chi2_sigma(chi2_nu_value: float, n: int) -> float:
    """Gaussian-equivalent sigma of chi2 = chi2_nu*(n-1) with n-1 dof (upper tail), capped at SIGMA_CAP."""
    if n < 2 or not np.isfinite(chi2_nu_value):
        return float("nan")
    dof = n - 1
    p = stats.chi2.sf(chi2_nu_value * dof, dof)
    return float(min(stats.norm.isf(p), SIGMA_CAP))


def _best_pair(s: np.ndarray, e: np.ndarray) -> tuple[int, int, float, float]:
    """Indices (a < b), |Vs| and signed m of the pair with the largest |Vs|."""
    diff = np.subtract.outer(s, s)                      # S_a - S_b
    vs = diff / np.sqrt(np.add.outer(e**2, e**2))
    vs = np.triu(np.abs(vs), k=1)                       # a < b only
    a, b = np.unravel_index(int(np.argmax(vs)), vs.shape)
    summ = s[a] + s[b]
    m = 2.0 * (s[a] - s[b]) / summ if summ != 0 else float("nan")
    return int(a), int(b), float(vs[a, b]), float(m)


def _loo_deviation(s: np.ndarray, e: np.ndarray) -> tuple[int, float]:
    """Index and value of max_i |S_i - S_w^(-i)| / sqrt(sigma_i^2 + 1/sum_{j!=i} w_j)."""
    w = 1.0 / e**2
    wsum, wssum = np.sum(w), np.sum(w * s)
    w_rest = wsum - w
    mean_rest = (wssum - w * s) / w_rest
    dev = np.abs(s - mean_rest) / np.sqrt(e**2 + 1.0 / w_rest)
    i = int(np.argmax(dev))
    return i, float(dev[i])


def source_metrics(flux, err, groups: Sequence | None = None) -> dict:
    """All metrics of one light curve (see module docstring); flux and err in Jy.

    ``groups`` labels the points (e.g. the epoch ``group`` strings) and defaults to
    the positional index.  Points are used in the order given (pass them sorted by
    time so that ``pair_a`` is the earlier epoch).  Returns a dict keyed by
    :data:`METRIC_COLUMNS`.
    """
    s, e, ok = _clean(flux, err)
    labels = np.arange(ok.size) if groups is None else np.asarray(list(groups), dtype=object)
    if labels.shape != ok.shape:
        raise ValueError("groups must have the same length as flux")
    labels = labels[ok]
    n = int(s.size)
    nan = float("nan")
    out = dict.fromkeys(METRIC_COLUMNS, nan)
    out.update(n_epochs=n, pair_a=None, pair_b=None, sigma_dev_at=None)
    if n == 0:
        return out
    w = 1.0 / e**2
    out["mean"] = float(np.mean(s))
    out["wmean"] = float(np.sum(w * s) / np.sum(w))
    out["wmean_err"] = float(1.0 / np.sqrt(np.sum(w)))
    if n < 2:
        return out
    out["std"] = float(np.std(s, ddof=1))
    out["chi2_nu"] = chi2_nu(s, e)
    out["eta"] = float(n / (n - 1) * (np.mean(w * s**2) - np.mean(w * s) ** 2 / np.mean(w)))
    out["V"] = out["std"] / out["mean"] if out["mean"] != 0 else nan
    a, b, vs, m = _best_pair(s, e)
    out.update(vs_max=vs, m_pair=m, pair_a=labels[a], pair_b=labels[b])
    i, dev = _loo_deviation(s, e)
    out.update(sigma_dev=dev, sigma_dev_at=labels[i])
    out["chi2_sigma"] = chi2_sigma(out["chi2_nu"], n)
    return out


def _significance(row) -> float:
    vals = [v for v in (row["sigma_dev"], row["chi2_sigma"]) if np.isfinite(v)]
    return float(max(vals)) if vals else float("nan")


def only_flags(flags: pd.Series, allowed) -> np.ndarray:
    """Boolean array: rows whose ';'-separated ``flags`` are all in ``allowed`` (or none).
    An array, not a Series: an empty object Series would select columns instead of rows."""
    tokens = flags.fillna("").astype(str).str.split(";")
    return tokens.map(lambda ts: all(t.strip() in allowed for t in ts if t.strip())).to_numpy(bool)


def variability_table(
    lc: pd.DataFrame,
    *,
    flux_col: str = "norm_flux_jy",
    err_col: str = "norm_err_jy",
    photometry: Photometry,
    drop_flagged: bool = True,
    keep_flags: tuple[str, ...] = ("blended",),
) -> pd.DataFrame:
    """One row per ``source_id`` with all metrics, ``significance`` and ``ese_candidate``.

    The verdict uses ``photometry.chi2_nu_min``, ``sigma_dev_min``, ``min_epochs`` and
    ``v_min`` (0 = no modulation-index cut).

    ``lc`` is a measurements table (typically ``normalize(...).table``).  Rows are
    ordered by ``mjd`` when present and labelled by ``group`` when present.  Rows
    with NaN flux/error (uncorrected epochs) are ignored; with ``drop_flagged`` rows
    carrying any flag other than those in ``keep_flags`` are ignored too (``blended`` is
    informational: a joint fit is a valid measurement).  ``ra_deg``/``dec_deg``
    (median) and ``is_reference`` (any) are carried over when present.
    """
    missing = [c for c in ("source_id", flux_col, err_col) if c not in lc.columns]
    if missing:
        raise ValueError(f"light-curve table lacks required column(s) {missing}")
    df = lc
    if drop_flagged and "flags" in df.columns:
        df = df[only_flags(df["flags"], keep_flags)]
    if "mjd" in df.columns:
        df = df.sort_values("mjd", kind="stable")
    rows = []
    for sid, g in df.groupby(df["source_id"].astype(str), sort=True):
        labels = g["group"].to_numpy() if "group" in g.columns else None
        rec = {"source_id": sid}
        for c in ("ra_deg", "dec_deg"):
            if c in g.columns:
                rec[c] = float(np.nanmedian(g[c])) if g[c].notna().any() else float("nan")
        rec.update(source_metrics(g[flux_col].to_numpy(), g[err_col].to_numpy(), labels))
        if "is_reference" in g.columns:
            rec["is_reference"] = bool(g["is_reference"].eq(True).any())
        rows.append(rec)
    cols = ["source_id"] + [c for c in ("ra_deg", "dec_deg") if c in df.columns] + METRIC_COLUMNS
    out = pd.DataFrame(rows, columns=cols + (["is_reference"] if "is_reference" in df.columns else []))
    if out.empty:
        out["significance"] = pd.Series(dtype=float)
        out["ese_candidate"] = pd.Series(dtype=bool)
        return out
    out["n_epochs"] = out["n_epochs"].astype(int)
    out["significance"] = out.apply(_significance, axis=1)
    chi2_nu_min, sigma_dev_min = photometry.chi2_nu_min, photometry.sigma_dev_min
    min_epochs, v_min = photometry.min_epochs, photometry.v_min
    enough = out["n_epochs"] >= min_epochs
    large = out["V"].abs() >= v_min if v_min > 0 else True
    out["ese_candidate"] = enough & ((out["chi2_nu"] > chi2_nu_min) | (out["sigma_dev"] > sigma_dev_min)) & large
    out["ese_candidate"] = out["ese_candidate"].astype(bool)
    return out


def candidates(table: pd.DataFrame) -> pd.DataFrame:
    """ESE candidates of a :func:`variability_table`, most significant first."""
    cand = table[table["ese_candidate"].astype(bool)]
    return cand.sort_values("significance", ascending=False, kind="stable").reset_index(drop=True)
