"""The photometry stages as the workflow runs them: one image -> CSV, all CSVs -> light curves.

Products of :func:`lightcurves` (all CSV, fluxes in Jy, times MJD UTC):

- ``lightcurves``: every measurement of every source (one row per source and image),
  with the normalisation columns (``correction``, ``norm_flux_jy``, ``norm_err_jy``,
  ``corrected``, ``is_reference``); ``norm_err_jy`` follows the error model calibrated
  on the reference ensemble (``photometry.calibrate_errors``, see
  :func:`.normalize.error_model`), ``flux_err_raw_jy`` is the per-image error before it; science groups whose image is missing get one row
  per source with ``flags = 'missing'`` and NaN fluxes, so each light curve shows the gap;
- ``corrections``: one row per image: ensemble correction factor, its error, references
  used, corrected or why not;
- ``variability``: one row per source with the metrics of :mod:`.variability` and the
  ESE verdict;
- ``candidates``: the ESE candidates, most significant first;
- ``dropped_references``: references rejected, with the reason.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
from astropy.time import Time

from ..atomic import atomic_path
from ..catalog.build_master import read_references, read_sources
from .forced import COLUMNS, load_image, measure
from .normalize import error_model, normalize
from .variability import candidates, variability_table

log = logging.getLogger(__name__)


def sources_in_catalog(db_path: str) -> pd.DataFrame:
    """source_id, ra_deg, dec_deg (+ s_nvss) of every master-catalog source."""
    src = read_sources(db_path)
    return src[["source_id", "ra_deg", "dec_deg", "s_nvss"]].reset_index(drop=True)


def photometry_of_image(pbcor: str, pb: str, db_path: str, group: str, pcfg: dict, pblimit: float) -> pd.DataFrame:
    """Forced photometry of every master-catalog source inside the usable beam of one image."""
    img = load_image(pbcor, pb)
    table = measure(img, sources_in_catalog(db_path), group, pb_min=pcfg["pb_min"], pblimit=pblimit,
                    box_beams=pcfg["box_beams"], annulus_beams=tuple(pcfg["annulus_beams"]), blend_beams=pcfg["blend_beams"])
    log.info("%s: %d sources measured (%d flagged)", pbcor, len(table), int((table["flags"] != "").sum()))
    return table


def write_csv(df: pd.DataFrame, path: str) -> None:
    """Write a CSV atomically (full float precision)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.8g")


def group_mjd(group: str) -> float:
    """MJD (UTC) of a group id (its first file's timestamp, YYYY-MM-DDTHH:MM:SS)."""
    return float(Time(group, format="isot", scale="utc").mjd)


def lightcurves(csv_paths: list[str], db_path: str, pcfg: dict, missing_groups: list[str] | None = None) -> dict:
    """Merge per-image CSVs, normalise against the reference ensemble, compute variability.

    ``missing_groups``: science groups of the range that have no image (e.g. an
    incomplete group); they appear as gaps.  Returns a dict of DataFrames (see module
    docstring) plus ``references`` (the ids requested from the catalog view).
    """
    frames = [pd.read_csv(p, dtype={"source_id": str, "group": str, "flags": str}, keep_default_na=False,
                          na_values={c: ["", "nan", "NaN"] for c in COLUMNS if c not in ("source_id", "group", "flags")})
              for p in csv_paths]
    # an image where no catalog source was measurable is a gap like a missing image
    missing_groups = list(missing_groups or []) + [os.path.basename(p)[: -len(".csv")] for p, f in zip(csv_paths, frames) if not len(f)]
    frames = [f for f in frames if len(f)]
    meas = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    meas["flags"] = meas["flags"].fillna("")
    if missing_groups and len(meas):
        ids = meas.groupby("source_id")[["ra_deg", "dec_deg"]].first().reset_index()
        gaps = [ids.assign(mjd=group_mjd(g) + 0.0, group=g, flux_jy=np.nan, flux_err_jy=np.nan, rms_jy=np.nan, pb=np.nan,
                           snr=np.nan, flags="missing") for g in missing_groups]
        meas = pd.concat([meas] + gaps, ignore_index=True)
    meas = meas.sort_values(["mjd", "source_id"], kind="stable").reset_index(drop=True)
    refs = read_references(db_path, view=pcfg["reference_view"])["source_id"].astype(str).tolist()
    in_field = set(meas["source_id"])
    refs = [r for r in refs if r in in_field]
    def run(table):
        return normalize(table, refs, baseline_epochs=pcfg["baseline_epochs"], min_refs=pcfg["min_refs"],
                         clip_sigma=pcfg["clip_sigma"], ref_chi2_max=pcfg["ref_chi2_max"], weighted=pcfg["weighted_median"])

    res = run(meas)
    scale, floor, ref_recs = 1.0, 0.0, []
    if pcfg["calibrate_errors"]:
        # pass 1 fits the error model on the references; pass 2 normalises again with
        # calibrated errors, so reference rejection (ref_chi2_max), clipping and weights
        # work in the same units as the candidate thresholds; the residual model of
        # pass 2 (close to a = 1, b = 0) is applied to the normalised errors
        scale, floor, ref_recs = error_model(res.table, pcfg["min_refs"])
        cal = meas.assign(flux_err_raw_jy=meas["flux_err_jy"],
                          flux_err_jy=np.hypot(scale * meas["flux_err_jy"], floor * meas["flux_jy"]))
        res = run(cal)
        a2, b2, ref_recs = error_model(res.table, pcfg["min_refs"])
        res.table["norm_err_jy"] = np.hypot(a2 * res.table["norm_err_jy"], b2 * res.table["norm_flux_jy"])
        # net model: sqrt((a2 a sigma)^2 + ((a2 b)^2 + b2^2) S^2)
        scale, floor = scale * a2, float(np.hypot(a2 * floor, b2))
        log.info("error model from %d references: sigma' = sqrt((%.3f sigma)^2 + (%.4f S)^2) (second pass a=%.3f b=%.4f)",
                 len(ref_recs), scale, floor, a2, b2)
    var = variability_table(res.table, chi2_nu_min=pcfg["chi2_nu_min"], sigma_dev_min=pcfg["sigma_dev_min"],
                            min_epochs=pcfg["min_epochs"], v_min=pcfg["v_min"])
    snr = res.table[res.table["flags"] == ""].groupby("source_id")["snr"].median().rename("median_snr")
    var = var.merge(snr, left_on="source_id", right_index=True, how="left")
    if pcfg.get("min_snr", 0) > 0:
        var.loc[~(var["median_snr"] >= pcfg["min_snr"]), "ese_candidate"] = False
    return {"lightcurves": res.table, "corrections": res.epochs, "variability": var, "candidates": candidates(var),
            "dropped_references": res.dropped_refs, "references": refs, "error_scale": scale,
            "error_floor": floor, "reference_error_model": ref_recs}


def plot_all(products: dict, out_dir: str, pcfg: dict) -> dict[str, str]:
    """The report plots: candidates' and a sample of references' light curves, the
    correction factor per epoch, and the eta-V plane.  Returns name -> PNG path."""
    from .plots import plot_chi2_eta, plot_corrections, plot_lightcurves  # noqa: PLC0415

    os.makedirs(out_dir, exist_ok=True)
    lc, var = products["lightcurves"], products["variability"]
    cand = products["candidates"]["source_id"].tolist()
    refs = var[var["is_reference"].astype(bool)]
    refs = refs.sort_values("median_snr", ascending=False)["source_id"].tolist()[: pcfg["n_reference_plots"]]
    out = {
        "candidates": os.path.join(out_dir, "candidates_lightcurves.png"),
        "references": os.path.join(out_dir, "references_lightcurves.png"),
        "corrections": os.path.join(out_dir, "corrections.png"),
        "eta_v": os.path.join(out_dir, "eta_v.png"),
    }
    plot_lightcurves(lc, cand, out["candidates"], title=f"ESE candidates ({len(cand)}): raw and normalised")
    plot_lightcurves(lc, refs, out["references"], title=f"Reference sources (brightest {len(refs)}): raw and normalised")
    plot_corrections(products["corrections"], out["corrections"])
    plot_chi2_eta(var, out["eta_v"], chi2_nu_min=pcfg["chi2_nu_min"])
    return out
