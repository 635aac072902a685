"""Rule simulate_beam: the simulator's Airy beam as an H5 beam model."""
from dsa110_contimg.bands import all_freqs
from dsa110_contimg.beam.h5model import write_airy_model
from dsa110_contimg.logutil import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
f = all_freqs(1)  # one frequency per subband
write_airy_model(sm.output.h5, sorted(f), sm.config["telescope"]["dish_diameter_m"], sm.config["telescope"]["name"])
