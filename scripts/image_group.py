"""Rule image: one calibrated group through the configured imager; FITS, QA JSON, thumbnail."""
import json
import os

from dsa110_contimg.atomic import write_json
from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.catalog.build_master import sources_from_master
from dsa110_contimg.imaging.pipeline import image_group
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import config_hash, provenance_record
from dsa110_contimg.settings import Settings
from dsa110_contimg.sky import read_sky_csv

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
settings = Settings.from_config(sm.config)
with open(sm.input.calibrated) as fh:
    calibration = json.load(fh)
qa = image_group(ms_path=sm.input.ms, fits_prefix=sm.output.image[: -len(".image.fits")], imaging=settings.imaging,
                 telescope=settings.telescope, config_hash=config_hash(sm.config), threads=sm.threads, vptable=os.path.abspath(sm.input.vp),
                 beam_h5=sm.input.beam, sky_sources=sources_from_master(sm.input.sources[0]) if sm.input.sources else [],
                 overlay=[s for path in sm.input.catalog for s in read_sky_csv(path)], calibration=calibration)
qa["provenance"] = provenance_record(sm.config, inputs=[sm.input.ms, sm.input.vp, *sm.input.sources])
write_json(sm.output.qa, qa)
