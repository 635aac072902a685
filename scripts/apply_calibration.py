"""Rule apply: choose the valid tables for this group, applycal, check, sidecar JSON."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.calibration import apply as ap
from dsa110_contimg.calibration.pipeline import calsets_from_summaries
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
cc = sm.config["calibration"]
summaries = []
for path in sm.input.solutions:
    with open(path) as fh:
        summaries.append(json.load(fh))
mid = ap.ms_mid_mjd(sm.input.ms)
tabs, windows = ap.select_tables(calsets_from_summaries(summaries), mid, cc["bp_validity_h"], cc["gain_validity_h"])
check = ap.apply(sm.input.ms, tabs)
sidecar = {"ms": sm.input.ms, "mid_mjd": mid, "tables": windows, "check": check,
           "provenance": provenance_record(sm.config, inputs=[sm.input.ms, *tabs.values()])}
with atomic_path(sm.output.sidecar) as tmp, open(tmp, "w") as fh:
    json.dump(sidecar, fh, indent=1)
