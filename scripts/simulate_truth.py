"""Rule simulate_truth: truth.json + sky.csv of the simulated run."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.simulate.run import write_truth

to_file(snakemake.log[0])  # noqa: F821
write_truth(snakemake.config, snakemake.output.truth, snakemake.output.catalog, snakemake.output.calibrators)  # noqa: F821
