"""Rule solve_field: gains of one field group against the master catalog (or a recorded poor solve)."""
from dsa110_contimg.calibration.pipeline import solve_field_group
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
solve_field_group(sm.input.ms, transit_path=sm.input.transit, catalog=sm.input.catalog, beam_h5=sm.input.beam,
                  settings=Settings.from_config(sm.config), caldir=sm.output.tables, summary_path=sm.output.summary,
                  threads=sm.threads)
