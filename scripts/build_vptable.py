"""Rule vptable: CASA VP table from the H5 beam model."""
from dsa110_contimg.beam.vptable import build_vp_table
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.logutil import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
build_vp_table(sm.input.h5, sm.output.vp, telescope=sm.params.telescope, freq_hz=sm.params.freq_hz)
