"""Rule simulate_beam: the simulator's Airy beam as an H5 beam model."""
from dsa110_contimg.bands import all_freqs
from dsa110_contimg.beam.h5model import write_airy_model
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
tel = Settings.from_config(sm.config).telescope
write_airy_model(sm.output.h5, sorted(all_freqs(1)), tel.dish_diameter_m, telescope=tel.name)  # one frequency per subband
