"""Rule forced_photometry: every pbcor image of one date -> one CSV of catalog-position fluxes (+ JSON sidecar)."""
import os

from dsa110_contimg.jobs import photometry_job
from dsa110_contimg.layout import image_file
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
# one directory per group: images/<date>/<group>/
images = {os.path.basename(d.rstrip("/")): (image_file(d, ".image.pbcor.fits"), image_file(d, ".pb.fits"))
          for d in sm.input.images}
photometry_job(images, db_path=sm.input.db, settings=Settings.from_config(sm.config), csv_path=sm.output.csv,
               sidecar_path=sm.output.sidecar,
               provenance=provenance_record(sm.config, inputs=[p for pair in images.values() for p in pair] + [sm.input.db]))
