"""Per-transit fluxes: a source's measurements in the consecutive groups of one transit, combined.

A source drifts through the meridian beam once a sidereal day, in ~4 consecutive ~5-minute
groups (pb >= 0.3).  Its normalised measurements (:mod:`.normalize`, per image) are
grouped by transit -- consecutive measurements less than ``photometry.transit_gap_h``
apart -- and combined by inverse variance:

    S = sum(w_i S_i) / sum(w_i),  sigma = 1 / sqrt(sum(w_i)),  w_i = 1 / sigma_i^2

with the time the weighted mean of the measurements' MJDs.  Measurements that are
flagged (other than ``blended``: a joint fit is a measurement) or not normalised (NaN)
do not enter; a transit without any is a gap (``flags = missing``, NaN flux), so the
per-transit light curve keeps its holes.  Variability and the ESE search run on these
series (the seed's timescales are days to months).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .variability import only_flags

COLUMNS = ["source_id", "transit", "mjd", "ra_deg", "dec_deg", "norm_flux_jy", "norm_err_jy", "snr", "n_measurements",
           "groups", "is_reference", "flags"]
"""Columns of the per-transit table (fluxes in Jy, mjd MJD UTC; ``transit``: the UTC time
(to the minute) of the transit's weighted-mean time, ``groups``: the images combined, ';'-separated)."""

USABLE_FLAGS = ("blended",)


def transit_labels(mjd: np.ndarray, gap_h: float) -> np.ndarray:
    """Integer transit index of each of ``mjd`` (sorted ascending): a new transit starts where
    consecutive times are more than ``gap_h`` hours apart."""
    if len(mjd) == 0:
        return np.zeros(0, int)
    return np.concatenate([[0], np.cumsum(np.diff(mjd) * 24.0 > gap_h)])


def per_transit(lc: pd.DataFrame, *, gap_h: float) -> pd.DataFrame:
    """The per-transit table (:data:`COLUMNS`) of a normalised measurements table ``lc``
    (columns source_id, mjd, group, ra_deg, dec_deg, norm_flux_jy, norm_err_jy, flags,
    is_reference)."""
    rows = []
    for sid, g in lc.sort_values("mjd", kind="stable").groupby(lc["source_id"].astype(str), sort=True):
        mjd = g["mjd"].to_numpy(float)
        lab = transit_labels(mjd, gap_h)
        ok = only_flags(g["flags"], USABLE_FLAGS) & np.isfinite(g["norm_flux_jy"].to_numpy(float)) & (g["norm_err_jy"].to_numpy(float) > 0)
        for k in np.unique(lab):
            sel = lab == k
            use = sel & ok
            ref = bool(g["is_reference"].eq(True).to_numpy()[sel].any()) if "is_reference" in g.columns else False
            rec = {"source_id": sid, "ra_deg": float(np.nanmedian(g["ra_deg"].to_numpy(float)[sel])),
                   "dec_deg": float(np.nanmedian(g["dec_deg"].to_numpy(float)[sel])), "is_reference": ref}
            if use.any():
                w = 1.0 / g["norm_err_jy"].to_numpy(float)[use] ** 2
                flux = float(np.sum(w * g["norm_flux_jy"].to_numpy(float)[use]) / np.sum(w))
                err = float(1.0 / np.sqrt(np.sum(w)))
                t = float(np.sum(w * mjd[use]) / np.sum(w))
                rec.update(mjd=t, norm_flux_jy=flux, norm_err_jy=err, snr=flux / err, n_measurements=int(use.sum()),
                           groups=";".join(g["group"].astype(str).to_numpy()[use]), flags="")
            else:
                rec.update(mjd=float(np.mean(mjd[sel])), norm_flux_jy=np.nan, norm_err_jy=np.nan, snr=np.nan,
                           n_measurements=0, groups=";".join(g["group"].astype(str).to_numpy()[sel]), flags="missing")
            rows.append(rec)
    out = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "transit"])
    out.insert(1, "transit", pd.to_datetime(out["mjd"] - 40587.0, unit="D").dt.strftime("%Y-%m-%dT%H:%M") if len(out) else [])
    return out.sort_values(["mjd", "source_id"], kind="stable").reset_index(drop=True)
