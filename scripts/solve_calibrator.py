"""Rule solve: K, B, G on one calibrator group; summary JSON, registry row, QA plots."""
import os

from dsa110_contimg.calibration.calibrators import lookup
from dsa110_contimg.calibration.pipeline import solve_group
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import calibrator_catalog
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
settings = Settings.from_config(sm.config)
solve_group(sm.input.ms, calibrator=lookup(calibrator_catalog(settings), sm.params.calibrator), settings=settings,
            caldir=os.path.dirname(sm.output.K), registry=sm.params.registry, summary_path=sm.output.summary,
            delays_png=sm.output.delays,
            catalog=sm.input.catalog, beam_h5=sm.input.beam)
