"""Rule forced_photometry: every pbcor image of one date -> one CSV of catalog-position fluxes (+ JSON sidecar)."""
import os

from dsa110_contimg.jobs import photometry_job
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
suffix = ".image.pbcor.fits"
images = {os.path.basename(p)[: -len(suffix)]: (p, pb) for p, pb in zip(sm.input.pbcor, sm.input.pb, strict=True)}
photometry_job(images, db_path=sm.input.db, settings=Settings.from_config(sm.config), csv_path=sm.output.csv,
               sidecar_path=sm.output.sidecar,
               provenance=provenance_record(sm.config, inputs=[*sm.input.pbcor, *sm.input.pb, sm.input.db]))
