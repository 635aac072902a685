"""Rule apply: choose the tables for this group (transit, field gains or a graded fallback), applycal, check, sidecar JSON."""
from dsa110_contimg.calibration.pipeline import apply_group
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
apply_group(sm.input.ms, solutions=list(sm.input.solutions), settings=Settings.from_config(sm.config),
            sidecar_path=sm.output.sidecar, field=getattr(sm.input, "field", None),
            previous=list(getattr(sm.input, "previous", [])))
