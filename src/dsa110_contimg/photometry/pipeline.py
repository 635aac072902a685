"""The photometry stages as the workflow runs them: one image -> CSV, all CSVs -> light curves.

Products of :func:`lightcurves` (all CSV, fluxes in Jy, times MJD UTC):

- ``lightcurves``: every measurement of every source (one row per source and image),
  with the normalisation columns (``correction``, ``norm_flux_jy``, ``norm_err_jy``,
  ``corrected``, ``is_reference``); ``norm_err_jy`` follows the error model calibrated
  on the reference ensemble (``photometry.calibrate_errors``, see
  :func:`.normalize.error_model`), ``flux_err_raw_jy`` is the per-image error before it; science groups whose image is missing get one row
  per source with ``flags = 'missing'`` and NaN fluxes, so each light curve shows the gap;
- ``transits``: per source and transit, the inverse-variance combination of that transit's
  normalised measurements (:mod:`.transits`); variability and candidates come from it;
- ``corrections``: one row per image: ensemble correction factor, its error, references
  used, corrected or why not;
- ``variability``: one row per source with the metrics of :mod:`.variability` over its
  per-transit series and the ESE verdict;
- ``candidates``: the ESE candidates, most significant first;
- ``dropped_references``: references rejected, with the reason.

:func:`photometry_of_image` is what rule ``forced_photometry`` runs on each image of a date
(:func:`dsa110_contimg.jobs.photometry_job`); :func:`write_lightcurves` is rule
``lightcurves``: it computes and writes every product of the rule (each file atomically).  The
light-curve modules (normalisation, variability with scipy.stats, plots with matplotlib)
are imported where used: the per-image rule runs once per image and needs none of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from astropy.time import Time

from ..atomic import atomic_path, write_json
from ..catalog.build_master import read_references, read_sources
from ..settings import Imaging, Photometry, as_plain
from .forced import COLUMNS, load_image, measure

log = logging.getLogger(__name__)


def sources_in_catalog(db_path: str) -> pd.DataFrame:
    """source_id, ra_deg, dec_deg (+ s_nvss) of every master-catalog source."""
    src = read_sources(db_path)
    return src[["source_id", "ra_deg", "dec_deg", "s_nvss"]].reset_index(drop=True)


def photometry_of_image(pbcor: str, pb: str, *, db_path: str, group: str, photometry: Photometry,
                        imaging: Imaging) -> pd.DataFrame:
    """Forced photometry of every master-catalog source inside the usable beam of one image
    (``pbcor``/``pb`` FITS; the image's pb cut-off is ``imaging.pblimit``)."""
    img = load_image(pbcor, pb)
    table = measure(img, sources_in_catalog(db_path), group, photometry=photometry, pblimit=imaging.pblimit)
    log.info("%s: %d sources measured (%d flagged)", pbcor, len(table), int((table["flags"] != "").sum()))
    return table


def write_csv(df: pd.DataFrame, path: str) -> None:
    """Write a CSV atomically (full float precision)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.8g")


def group_mjd(group: str) -> float:
    """MJD (UTC) of a group id (its first file's timestamp, YYYY-MM-DDTHH:MM:SS)."""
    return float(Time(group, format="isot", scale="utc").mjd)


def lightcurves(csv_paths: Sequence[str], db_path: str, *, photometry: Photometry, imaged_groups: Sequence[str],
                missing_groups: Sequence[str] = ()) -> dict:
    """Merge the forced-photometry CSVs (one per date, or per image), normalise against the
    reference ensemble, compute variability.

    ``imaged_groups``: the groups whose images the CSVs measured; one with no row (no catalog
    source measurable) is a gap.  ``missing_groups``: groups of the range that have no image
    (e.g. an incomplete group); they appear as gaps too.  Returns a dict of DataFrames (see module
    docstring) plus ``references`` (the ids requested from the catalog view).
    """
    from .normalize import error_model, normalize
    from .transits import per_transit
    from .variability import candidates, variability_table

    frames = [pd.read_csv(p, dtype={"source_id": str, "group": str, "flags": str}, keep_default_na=False,
                          na_values={c: ["", "nan", "NaN"] for c in COLUMNS if c not in ("source_id", "group", "flags")})
              for p in csv_paths]
    frames = [f for f in frames if len(f)]
    meas = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    # an image where no catalog source was measurable is a gap like a missing image
    measured = set(meas["group"])
    missing_groups = sorted(set(missing_groups) | {g for g in imaged_groups if g not in measured})
    meas["flags"] = meas["flags"].fillna("")
    if missing_groups and len(meas):
        ids = meas.groupby("source_id")[["ra_deg", "dec_deg"]].first().reset_index()
        gaps = [ids.assign(mjd=group_mjd(g) + 0.0, group=g, flux_jy=np.nan, flux_err_jy=np.nan, rms_jy=np.nan, pb=np.nan,
                           snr=np.nan, flags="missing") for g in missing_groups]
        meas = pd.concat([meas] + gaps, ignore_index=True)
    meas = meas.sort_values(["mjd", "source_id"], kind="stable").reset_index(drop=True)
    refs = read_references(db_path, view=photometry.reference_view)["source_id"].astype(str).tolist()
    in_field = set(meas["source_id"])
    refs = [r for r in refs if r in in_field]
    def run(table):
        return normalize(table, refs, photometry=photometry)

    res = run(meas)
    scale, floor, ref_recs = 1.0, 0.0, []
    if photometry.calibrate_errors:
        # pass 1 fits the error model on the references; pass 2 normalises again with
        # calibrated errors, so reference rejection (ref_chi2_max), clipping and weights
        # work in the same units as the candidate thresholds; the residual model of
        # pass 2 (close to a = 1, b = 0) is applied to the normalised errors
        scale, floor, ref_recs = error_model(res.table, min_refs=photometry.min_refs)
        cal = meas.assign(flux_err_raw_jy=meas["flux_err_jy"],
                          flux_err_jy=np.hypot(scale * meas["flux_err_jy"], floor * meas["flux_jy"]))
        res = run(cal)
        a2, b2, ref_recs = error_model(res.table, min_refs=photometry.min_refs)
        res.table["norm_err_jy"] = np.hypot(a2 * res.table["norm_err_jy"], b2 * res.table["norm_flux_jy"])
        # net model: sqrt((a2 a sigma)^2 + ((a2 b)^2 + b2^2) S^2)
        scale, floor = scale * a2, float(np.hypot(a2 * floor, b2))
        log.info("error model from %d references: sigma' = sqrt((%.3f sigma)^2 + (%.4f S)^2) (second pass a=%.3f b=%.4f)",
                 len(ref_recs), scale, floor, a2, b2)
    transits = per_transit(res.table, gap_h=photometry.transit_gap_h)
    var = variability_table(transits.assign(group=transits["transit"]), photometry=photometry)
    snr = transits[transits["flags"] == ""].groupby("source_id")["snr"].median().rename("median_snr")
    var = var.merge(snr, left_on="source_id", right_index=True, how="left")
    if photometry.min_snr > 0:
        var.loc[~(var["median_snr"] >= photometry.min_snr), "ese_candidate"] = False
    return {"lightcurves": res.table, "transits": transits, "corrections": res.epochs, "variability": var,
            "candidates": candidates(var),
            "dropped_references": res.dropped_refs, "references": refs, "error_scale": scale,
            "error_floor": floor, "reference_error_model": ref_recs, "missing_groups": missing_groups}


def plot_all(products: dict, out_dir: str, *, photometry: Photometry) -> dict[str, str]:
    """The report plots: candidates' and a sample of references' light curves, the
    correction factor per epoch, and the eta-V plane.  Returns name -> PNG path."""
    from .plots import plot_chi2_eta, plot_corrections, plot_lightcurves

    os.makedirs(out_dir, exist_ok=True)
    lc, var = products["lightcurves"], products["variability"]
    cand = products["candidates"]["source_id"].tolist()
    refs = var[var["is_reference"].astype(bool)]
    refs = refs.sort_values("median_snr", ascending=False)["source_id"].tolist()[: photometry.n_reference_plots]
    out = {name: os.path.join(out_dir, f) for name, f in PLOT_FILES.items()}
    plot_lightcurves(lc, cand, out["candidates"], title=f"ESE candidates ({len(cand)}): raw and normalised")
    plot_lightcurves(lc, refs, out["references"], title=f"Reference sources (brightest {len(refs)}): raw and normalised")
    plot_corrections(products["corrections"], out["corrections"])
    plot_chi2_eta(var, out["eta_v"], chi2_nu_min=photometry.chi2_nu_min)
    return out


PLOT_FILES = {"candidates": "candidates_lightcurves.png", "references": "references_lightcurves.png",
              "corrections": "corrections.png", "eta_v": "eta_v.png"}
"""Plot name -> file name inside the plot directory."""

TABLE_FILES = {"lightcurves": "lightcurves.csv", "transits": "transits.csv", "corrections": "corrections.csv",
               "variability": "variability.csv",
               "candidates": "candidates.csv", "dropped_references": "dropped_references.csv"}
"""Product key of :func:`lightcurves` -> CSV file name inside the photometry directory."""


def lightcurve_summary(products: dict, *, n_images: int, missing_groups: Sequence[str], plots: dict[str, str],
                       photometry: Photometry, provenance: dict) -> dict:
    """The JSON summary of a :func:`lightcurves` run: counts, references requested / used /
    dropped, the error model, corrected epochs, the candidates, plots, settings, provenance."""
    corr, lc = products["corrections"], products["lightcurves"]
    return {
        "n_images": n_images, "missing_groups": list(missing_groups),
        "n_transits": int(products["transits"]["transit"].nunique()) if len(products["transits"]) else 0,
        "n_sources": int(products["variability"].shape[0]), "references_requested": products["references"],
        "references_used": sorted(lc.loc[lc["is_reference"], "source_id"].unique().tolist()),
        "references_dropped": products["dropped_references"].to_dict(orient="records"),
        "error_model": {"scale": products["error_scale"], "fractional_floor": products["error_floor"],
                        "references": products["reference_error_model"]},
        "epochs_corrected": int(corr["corrected"].sum()), "epochs_uncorrected": int((~corr["corrected"]).sum()),
        "candidates": products["candidates"][["source_id", "significance", "chi2_nu", "sigma_dev"]].to_dict(orient="records"),
        "plots": plots, "settings": as_plain(photometry),
        "provenance": provenance,
    }


def write_lightcurves(csv_paths: Sequence[str], db_path: str, *, photometry: Photometry, imaged_groups: Sequence[str],
                      missing_groups: Sequence[str], out_dir: str, provenance: dict) -> dict:
    """The lightcurves rule: :func:`lightcurves`, then every product into ``out_dir`` --
    the CSVs of :data:`TABLE_FILES`, the plots of :data:`PLOT_FILES` in ``out_dir/plots``
    and ``summary.json`` (:func:`lightcurve_summary`) last; each file atomically.
    Returns the summary."""
    prod = lightcurves(csv_paths, db_path, photometry=photometry, imaged_groups=imaged_groups, missing_groups=missing_groups)
    for key, name in TABLE_FILES.items():
        write_csv(prod[key], os.path.join(out_dir, name))
    plots = plot_all(prod, os.path.join(out_dir, "plots"), photometry=photometry)
    summary = lightcurve_summary(prod, n_images=len(imaged_groups), missing_groups=prod["missing_groups"], plots=plots,
                                 photometry=photometry, provenance=provenance)
    write_json(os.path.join(out_dir, "summary.json"), summary)
    return summary
