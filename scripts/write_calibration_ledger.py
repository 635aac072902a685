"""Rule calibration_ledger: every complete group, how it was calibrated (its apply sidecar) or why not."""
import json

from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import calibration_plan, discover_groups, write_calibration_ledger
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
sidecars = {}
for path in sm.input.sidecars:
    with open(path) as fh:
        sidecars[path.rsplit("/", 1)[-1][: -len(".json")]] = json.load(fh)
write_calibration_ledger(calibration_plan(settings, discover_groups(settings)), sm.output[0], sidecars)
