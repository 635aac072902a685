"""Rule simulate_day: the UVH5 files of every simulated group of one UTC date, in a new directory."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.run import write_day_dir

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
write_day_dir(simulation=settings.simulation, telescope=settings.telescope, truth_path=sm.input.truth,
              date=sm.wildcards.date, out_dir=sm.output.raw)
