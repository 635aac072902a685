"""Rule simulate_truth: truth.json, sky.csv, calibrators.csv and survey tables of the simulated run."""
import os

from dsa110_contimg.logutil import to_file
from dsa110_contimg.simulate.catalogs import write_survey_tables
from dsa110_contimg.simulate.run import write_truth

sm = snakemake  # noqa: F821
to_file(sm.log[0])
truth = write_truth(sm.config, sm.output.truth, sm.output.catalog, sm.output.calibrators)
paths = write_survey_tables(truth["sky"], sm.config["simulation"]["seed"], os.path.dirname(sm.output.nvss))
assert paths == {"nvss": sm.output.nvss, "vlass": sm.output.vlass, "first": sm.output.first}, paths
