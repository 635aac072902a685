"""Rule flag: reset/zeros/autocorrelations/RFI flags on one MS; statistics to JSON."""
from dsa110_contimg.calibration.pipeline import flag_group
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
flag_group(sm.input.ms, settings=Settings.from_config(sm.config), stats_path=sm.output.stats)
