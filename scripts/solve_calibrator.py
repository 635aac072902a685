"""Rule solve: K, B, G on one calibrator group; summary JSON, registry row, QA plots."""
import json
import os

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.calibration import apply as ap
from dsa110_contimg.calibration import qa
from dsa110_contimg.calibration.calibrators import lookup
from dsa110_contimg.calibration.pipeline import calsets_from_summaries, solve_calibrator_group
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.selection import calibrator_catalog

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
cfg = sm.config
cal = lookup(calibrator_catalog(cfg), sm.params.calibrator)
summary = solve_calibrator_group(sm.input.ms, cal, cfg, os.path.dirname(sm.output.K))
summary["provenance"] = provenance_record(cfg, inputs=[sm.input.ms])
cc = cfg["calibration"]
ap.register(sm.params.registry, calsets_from_summaries([summary])[0], cc["bp_validity_h"], cc["gain_validity_h"])
prefix = os.path.join(os.path.dirname(sm.output.delays), os.path.basename(sm.output.delays).rsplit("_delays.png", 1)[0])
qa.plot_tables(summary["tables"], prefix, f"{sm.wildcards.group} {cal.name}")
with atomic_path(sm.output.summary) as tmp, open(tmp, "w") as fh:
    json.dump(summary, fh, indent=1)
