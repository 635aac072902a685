#!/usr/bin/env python
"""Compare a simulated run's photometry products with the simulator's truth.

    python scripts/photometry_vs_truth.py [results]

- correction factors against the injected science-group drift (both divided by their
  median, since corrections are relative to the references' baseline epochs);
- chi2_nu of the normalised light curves of stable sources with median SNR > 50;
- the injected ESE source flagged? any stable source flagged?

Catalog sources are matched to the injected sky by position (nearest within 15 arcsec).
Prints a summary and writes it as JSON to <results>/photometry/truth_check.json.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pandas as pd


def match_truth(ids: pd.DataFrame, sky: list[dict], radius_arcsec: float = 15.0) -> dict[str, dict]:
    """source_id -> injected sky entry (nearest within ``radius_arcsec``)."""
    ra = np.array([s["ra_deg"] for s in sky])
    dec = np.array([s["dec_deg"] for s in sky])
    out = {}
    for r in ids.itertuples():
        d = np.hypot((ra - r.ra_deg) * math.cos(math.radians(r.dec_deg)), dec - r.dec_deg) * 3600
        k = int(np.argmin(d))
        if d[k] < radius_arcsec:
            out[str(r.source_id)] = sky[k]
    return out


def main(out: str) -> dict:
    truth = json.load(open(os.path.join(out, "sim", "truth.json")))
    ph = os.path.join(out, "photometry")
    corr = pd.read_csv(os.path.join(ph, "corrections.csv"), dtype={"group": str})
    var = pd.read_csv(os.path.join(ph, "variability.csv"), dtype={"source_id": str})
    epoch_of = {g["group_id"]: g["epoch"] for g in truth["groups"]}
    drift = np.array(truth["science_scale"])

    c = corr[corr["corrected"]].copy()
    c["injected"] = [drift[epoch_of[g]] for g in c["group"]]
    ratio = c["correction"] / c["injected"]
    resid = ratio / ratio.median() - 1.0
    corr_rms = float(np.sqrt(np.mean(resid**2)))

    m = match_truth(var, truth["sky"])
    var["truth"] = var["source_id"].map(lambda s: m.get(s, {}).get("name"))
    var["variable"] = var["source_id"].map(lambda s: "lightcurve" in m.get(s, {}))
    stable = var[~var["variable"] & var["truth"].notna()]
    bright = stable[stable["median_snr"] > 50]
    ese = var[var["variable"]]
    summary = {
        "run": out,
        "seed": truth["seed"],
        "epochs_corrected": int(corr["corrected"].sum()),
        "epochs_total": len(corr),
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
    print(f"{out} (seed {summary['seed']}):")
    print(f"  corrections: {summary['epochs_corrected']}/{summary['epochs_total']} epochs corrected; "
          f"rms difference from the injected drift {100 * corr_rms:.2f}% (goal < 0.5%)")
    for r in c.itertuples():
        print(f"    {r.group}: correction {r.correction:.4f} +- {r.correction_err:.4f}, injected drift {r.injected:.4f}, "
              f"ratio/median {r.correction / r.injected / ratio.median():.4f} ({r.n_refs} refs)")
    print(f"  stable sources with SNR > 50: {len(bright)}, chi2_nu median {summary['chi2_nu_median_stable_snr50']:.2f} (goal 0.7-1.5)")
    for r in bright.sort_values("median_snr").itertuples():
        print(f"    {r.source_id}: SNR {r.median_snr:.0f}, chi2_nu {r.chi2_nu:.2f}, V {r.V:.4f}, n {r.n_epochs}"
              f"{' (reference)' if r.is_reference else ''}")
    print(f"  chi2_nu medians: references {summary['chi2_nu_median_stable_snr50_references']:.2f}, "
          f"non-references {summary['chi2_nu_median_stable_snr50_non_references']:.2f} "
          f"(n = {summary['n_stable_snr50_non_references']}); all stable sources {summary['chi2_nu_median_stable_all']:.2f}")
    print(f"  ESE source {summary['ese_source']}: flagged {summary['ese_flagged']} (significance {summary['ese_significance']:.1f}); "
          f"stable sources flagged: {len(summary['stable_flagged'])} {summary['stable_flagged']}")
    from dsa110_contimg.photometry.plots import plot_corrections  # noqa: PLC0415

    # the injected drift on the corrections' scale (corrections are relative to the baseline epochs)
    plot_corrections(corr, os.path.join(ph, "corrections_vs_truth.png"),
                     truth={g: drift[epoch_of[g]] * float(ratio.median()) for g in corr["group"]})
    summary["plot"] = os.path.join(ph, "corrections_vs_truth.png")
    with open(os.path.join(ph, "truth_check.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
