"""Rule flag: reset/zeros/autocorrelations/RFI flags on one MS; statistics to JSON."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.calibration.flagging import DEFAULT_STRATEGY, flag_ms
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
stats = flag_ms(sm.input.ms, sm.params.method, sm.params.strategy or DEFAULT_STRATEGY)
stats["provenance"] = provenance_record(sm.config, inputs=[sm.input.ms])
with atomic_path(sm.output.stats) as tmp, open(tmp, "w") as fh:
    json.dump(stats, fh, indent=1)
