"""Rule simulate_group: the UVH5 files of one simulated group, written into a new directory."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.logutil import to_file
from dsa110_contimg.simulate.run import simulate_group

sm = snakemake  # noqa: F821
to_file(sm.log[0])
with open(sm.input.truth) as fh:
    truth = json.load(fh)
with atomic_path(sm.output.raw, is_dir=True) as tmp:
    simulate_group(sm.config, truth, sm.wildcards.group, tmp)
