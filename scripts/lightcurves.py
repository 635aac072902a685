"""Rule lightcurves: per-date photometry CSVs -> normalised light curves, corrections, variability, candidates, plots."""
import os

from dsa110_contimg.logutil import to_file
from dsa110_contimg.photometry.pipeline import write_lightcurves
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
write_lightcurves(list(sm.input.csvs), sm.input.db, photometry=Settings.from_config(sm.config).photometry,
                  imaged_groups=list(sm.params.imaged), missing_groups=list(sm.params.missing),
                  out_dir=os.path.dirname(sm.output.summary),
                  provenance=provenance_record(sm.config, inputs=list(sm.input.csvs) + [sm.input.db]))
