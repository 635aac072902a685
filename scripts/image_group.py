"""Rule image: applycal of the group's chosen tables, then the configured imager; FITS, QA JSON, thumbnail."""
import os

from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.jobs import image_job
from dsa110_contimg.layout import image_file
from dsa110_contimg.logutil import to_file
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
os.makedirs(sm.output.images, exist_ok=True)
prefix = image_file(sm.output.images, "")
configure_casa(logfile=sm.log[0])
image_job(sm.input.ms, solutions=list(sm.input.solutions), field_dir=sm.params.field or None,
          previous_dirs=list(getattr(sm.input, "previous", [])), settings=Settings.from_config(sm.config),
          sidecar_path=sm.output.sidecar, fits_prefix=prefix, qa_path=prefix + ".qa.json",
          vptable=sm.input.vp, beam_h5=sm.params.beam, catalog_db=sm.input.sources[0] if sm.input.sources else None,
          overlay_csvs=list(sm.params.overlay), config=sm.config, threads=sm.threads)
