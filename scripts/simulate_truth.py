"""Rule simulate_truth: truth.json, sky.csv, calibrators.csv and survey tables of the simulated run."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.run import write_truth_and_surveys

sm = snakemake  # noqa: F821
to_file(sm.log[0])
write_truth_and_surveys(Settings.from_config(sm.config), truth_path=sm.output.truth, catalog_path=sm.output.catalog,
                        calibrators_path=sm.output.calibrators,
                        surveys={"nvss": sm.output.nvss, "vlass": sm.output.vlass, "first": sm.output.first})
