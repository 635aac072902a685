"""Photometry products of a simulated run against the simulator's truth.

- correction factors against the injected science-group drift (both divided by their
  median, since corrections are relative to the references' baseline epochs);
- chi2_nu of the normalised light curves of stable sources with median SNR > 50;
- the injected ESE source flagged? any stable source flagged?

Catalog sources are matched to the injected sky by position (nearest within 15 arcsec).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..atomic import write_json
from ..photometry.plots import plot_corrections
from .calibration import read_truth

MATCH_RADIUS_ARCSEC = 15.0
BRIGHT_SNR = 50.0


def match_truth(ids: pd.DataFrame, sky: list[dict], radius_arcsec: float = MATCH_RADIUS_ARCSEC) -> dict[str, dict]:
    """source_id -> injected sky entry (nearest within ``radius_arcsec``); ``ids`` has
    source_id, ra_deg, dec_deg (deg)."""
    ra = np.array([s["ra_deg"] for s in sky])
    dec = np.array([s["dec_deg"] for s in sky])
    out = {}
    for r in ids.itertuples():
        d = np.hypot((ra - r.ra_deg) * math.cos(math.radians(r.dec_deg)), dec - r.dec_deg) * 3600
        k = int(np.argmin(d))
        if d[k] < radius_arcsec:
            out[str(r.source_id)] = sky[k]
    return out


@dataclass(frozen=True)
class PhotometryCheck:
    """Result of :func:`check_photometry`: ``summary`` (JSON-able figures), ``corrected``
    (the corrected epochs of corrections.csv with ``injected``: the drift of the epoch),
    ``ratio_median`` (median of correction / injected), ``bright`` (stable matched sources
    with median SNR > 50, rows of variability.csv)."""

    summary: dict
    corrected: pd.DataFrame
    ratio_median: float
    bright: pd.DataFrame


def check_photometry(corrections: pd.DataFrame, variability: pd.DataFrame, truth: dict, *, run: str) -> PhotometryCheck:
    """Compare corrections.csv and variability.csv (as DataFrames) with ``truth``; ``run``
    is recorded in the summary.  ``variability`` gains the columns ``truth`` (matched sky
    name or None) and ``variable`` (matched to a source with a light curve)."""
    epoch_of = {g["group_id"]: g["epoch"] for g in truth["groups"]}
    drift = np.array(truth["science_scale"])
    c = corrections[corrections["corrected"]].copy()
    c["injected"] = [drift[epoch_of[g]] for g in c["group"]]
    ratio = c["correction"] / c["injected"]
    resid = ratio / ratio.median() - 1.0
    corr_rms = float(np.sqrt(np.mean(resid**2)))

    var = variability
    m = match_truth(var, truth["sky"])
    var["truth"] = var["source_id"].map(lambda s: m.get(s, {}).get("name"))
    var["variable"] = var["source_id"].map(lambda s: "lightcurve" in m.get(s, {}))
    stable = var[~var["variable"] & var["truth"].notna()]
    bright = stable[stable["median_snr"] > BRIGHT_SNR]
    ese = var[var["variable"]]
    summary = {
        "run": run,
        "seed": truth["seed"],
        "epochs_corrected": int(corrections["corrected"].sum()),
        "epochs_total": len(corrections),
        "correction_vs_injected_rms": corr_rms,
        "n_stable_snr50": len(bright),
        "chi2_nu_median_stable_snr50": float(bright["chi2_nu"].median()) if len(bright) else float("nan"),
        "chi2_nu_median_stable_snr50_references": float(bright.loc[bright["is_reference"], "chi2_nu"].median()),
        "chi2_nu_median_stable_snr50_non_references": float(bright.loc[~bright["is_reference"], "chi2_nu"].median()),
        "n_stable_snr50_non_references": int((~bright["is_reference"]).sum()),
        "chi2_nu_median_stable_all": float(stable["chi2_nu"].median()),
        "ese_source": truth.get("ese_source"),
        "ese_flagged": bool(ese["ese_candidate"].any()) if len(ese) else False,
        "ese_significance": float(ese["significance"].max()) if len(ese) else float("nan"),
        "stable_flagged": stable.loc[stable["ese_candidate"], "source_id"].tolist(),
        "n_sources": len(var),
        "unmatched": int(var["truth"].isna().sum()),
    }
    return PhotometryCheck(summary=summary, corrected=c, ratio_median=ratio.median(), bright=bright)


def format_photometry(check: PhotometryCheck) -> list[str]:
    """The printed lines of a :class:`PhotometryCheck`."""
    s = check.summary
    lines = [f"{s['run']} (seed {s['seed']}):",
             f"  corrections: {s['epochs_corrected']}/{s['epochs_total']} epochs corrected; "
             f"rms difference from the injected drift {100 * s['correction_vs_injected_rms']:.2f}% (goal < 0.5%)"]
    for r in check.corrected.itertuples():
        lines.append(f"    {r.group}: correction {r.correction:.4f} +- {r.correction_err:.4f}, injected drift {r.injected:.4f}, "
                     f"ratio/median {r.correction / r.injected / check.ratio_median:.4f} ({r.n_refs} refs)")
    lines.append(f"  stable sources with SNR > 50: {len(check.bright)}, chi2_nu median {s['chi2_nu_median_stable_snr50']:.2f} (goal 0.7-1.5)")
    for r in check.bright.sort_values("median_snr").itertuples():
        lines.append(f"    {r.source_id}: SNR {r.median_snr:.0f}, chi2_nu {r.chi2_nu:.2f}, V {r.V:.4f}, n {r.n_epochs}"
                     f"{' (reference)' if r.is_reference else ''}")
    lines.append(f"  chi2_nu medians: references {s['chi2_nu_median_stable_snr50_references']:.2f}, "
                 f"non-references {s['chi2_nu_median_stable_snr50_non_references']:.2f} "
                 f"(n = {s['n_stable_snr50_non_references']}); all stable sources {s['chi2_nu_median_stable_all']:.2f}")
    lines.append(f"  ESE source {s['ese_source']}: flagged {s['ese_flagged']} (significance {s['ese_significance']:.1f}); "
                 f"stable sources flagged: {len(s['stable_flagged'])} {s['stable_flagged']}")
    return lines


def plot_vs_truth(corrections: pd.DataFrame, truth: dict, ratio_median: float, out_png: str) -> str:
    """corrections.png with the injected drift on the corrections' scale (corrections are
    relative to the baseline epochs: drift x ``ratio_median``)."""
    epoch_of = {g["group_id"]: g["epoch"] for g in truth["groups"]}
    drift = np.array(truth["science_scale"])
    return plot_corrections(corrections, out_png,
                            truth={g: drift[epoch_of[g]] * float(ratio_median) for g in corrections["group"]})


def check_run(run: str) -> PhotometryCheck:
    """:func:`check_photometry` on ``<run>/photometry/{corrections,variability}.csv``; writes
    the plot ``corrections_vs_truth.png`` and the summary (with ``plot``) as
    ``truth_check.json`` beside them."""
    truth = read_truth(run)
    ph = os.path.join(run, "photometry")
    corr = pd.read_csv(os.path.join(ph, "corrections.csv"), dtype={"group": str})
    var = pd.read_csv(os.path.join(ph, "variability.csv"), dtype={"source_id": str})
    check = check_photometry(corr, var, truth, run=run)
    check.summary["plot"] = plot_vs_truth(corr, truth, check.ratio_median, os.path.join(ph, "corrections_vs_truth.png"))
    write_json(os.path.join(ph, "truth_check.json"), check.summary)
    return check
