"""Rule calibration_ledger: converted groups that no valid calibration covers."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import calibration_plan, discover_groups, write_calibration_ledger
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
write_calibration_ledger(calibration_plan(settings, discover_groups(settings)), sm.output[0])
