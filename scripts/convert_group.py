"""Rule convert: one group of UVH5 subbands -> flagged Measurement Set (+ field gains, summary JSON)."""
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.jobs import FieldInputs, convert_job
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
field = FieldInputs(sm.input.transit, sm.params.catalog, sm.params.beam) if hasattr(sm.input, "transit") else None
convert_job(list(sm.params.files), out_ms=sm.output.ms, summary_path=sm.output.summary, field_dir=sm.output.field,
            field=field, not_solved=sm.params.not_solved, settings=Settings.from_config(sm.config), workers=sm.threads)
