"""Rule lightcurves: per-image CSVs -> normalised light curves, corrections, variability, candidates, plots."""
import json
import os

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.logutil import to_file
from dsa110_contimg.photometry.pipeline import lightcurves, plot_all, write_csv
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
pcfg = sm.config["photometry"]
prod = lightcurves(list(sm.input.csvs), sm.input.db, pcfg, missing_groups=list(sm.params.missing))
for key, path in (("lightcurves", sm.output.lightcurves), ("corrections", sm.output.corrections),
                  ("variability", sm.output.variability), ("candidates", sm.output.candidates),
                  ("dropped_references", sm.output.dropped)):
    write_csv(prod[key], path)
plots = plot_all(prod, os.path.dirname(sm.output.plot_candidates), pcfg)
corr = prod["corrections"]
summary = {
    "n_images": len(sm.input.csvs), "missing_groups": list(sm.params.missing),
    "n_sources": int(prod["variability"].shape[0]), "references_requested": prod["references"],
    "references_used": sorted(prod["lightcurves"].loc[prod["lightcurves"]["is_reference"], "source_id"].unique().tolist()),
    "references_dropped": prod["dropped_references"].to_dict(orient="records"),
    "error_model": {"scale": prod["error_scale"], "fractional_floor": prod["error_floor"],
                    "references": prod["reference_error_model"]},
    "epochs_corrected": int(corr["corrected"].sum()), "epochs_uncorrected": int((~corr["corrected"]).sum()),
    "candidates": prod["candidates"][["source_id", "significance", "chi2_nu", "sigma_dev"]].to_dict(orient="records"),
    "plots": plots, "settings": pcfg,
    "provenance": provenance_record(sm.config, inputs=list(sm.input.csvs) + [sm.input.db]),
}
with atomic_path(sm.output.summary) as tmp, open(tmp, "w") as fh:
    json.dump(summary, fh, indent=1, default=float)
