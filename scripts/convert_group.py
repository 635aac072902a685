"""Rule convert: one group of UVH5 subbands -> Measurement Set (+ JSON summary)."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.conversion.convert import convert_group
from dsa110_contimg.logutil import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
summary = convert_group(list(sm.params.files), sm.output.ms, sm.config, writer=sm.params.writer, workers=sm.threads)
with atomic_path(sm.output.summary) as tmp, open(tmp, "w") as fh:
    json.dump(summary, fh, indent=1)
