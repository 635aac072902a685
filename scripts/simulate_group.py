"""Rule simulate_group: the UVH5 files of one simulated group, written into a new directory."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.run import write_group_dir

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
write_group_dir(simulation=settings.simulation, telescope=settings.telescope, truth_path=sm.input.truth,
                group_id=sm.wildcards.group, out_dir=sm.output.raw)
