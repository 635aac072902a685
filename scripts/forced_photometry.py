"""Rule forced_photometry: one pbcor image -> CSV of catalog-position fluxes (+ JSON sidecar)."""
from dsa110_contimg.logutil import to_file
from dsa110_contimg.photometry.pipeline import write_forced_photometry
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
settings = Settings.from_config(sm.config)
write_forced_photometry(sm.input.pbcor, sm.input.pb, db_path=sm.input.db, group=sm.wildcards.group,
                        photometry=settings.photometry, imaging=settings.imaging,
                        csv_path=sm.output.csv, sidecar_path=sm.output.sidecar,
                        provenance=provenance_record(sm.config, inputs=[sm.input.pbcor, sm.input.pb, sm.input.db]))
