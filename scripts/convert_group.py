"""Rule convert: one group of UVH5 subbands -> Measurement Set (+ JSON summary)."""
from dsa110_contimg.conversion.convert import convert_group_to
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
convert_group_to(list(sm.params.files), out_ms=sm.output.ms, summary_path=sm.output.summary,
                 telescope=settings.telescope, conversion=settings.conversion, workers=sm.threads)
