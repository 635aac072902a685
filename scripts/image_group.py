"""Rule image: tclean one calibrated group; FITS, QA JSON, thumbnail."""
import csv
import os

from dsa110_contimg.casa_env import configure_casa
from dsa110_contimg.imaging.pipeline import image_group
from dsa110_contimg.imaging.tclean_image import write_json
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
configure_casa(logfile=sm.log[0])
catalog = []
for path in sm.input.catalog:
    with open(path) as fh:
        catalog += [(r["name"], float(r["RAJ2000"]), float(r["DEJ2000"]), float(r["S1400_mJy"])) for r in csv.DictReader(fh)]
sources = []
if sm.input.sources:
    from dsa110_contimg.catalog.build_master import read_sources
    from dsa110_contimg.imaging.beam_equalize import SkySource

    df = read_sources(sm.input.sources[0])
    sources = [SkySource(r.source_id, r.ra_deg, r.dec_deg, r.s_nvss, -0.7 if r.alpha != r.alpha else r.alpha) for r in df.itertuples()]
prefix = sm.output.image[: -len(".image.fits")]
qa = image_group(sm.input.ms, prefix, sm.config, os.path.abspath(sm.input.vp), catalog, beam_h5=sm.input.beam,
                 sky_sources=sources)
qa["provenance"] = provenance_record(sm.config, inputs=[sm.input.ms, sm.input.vp, *sm.input.sources])
write_json(sm.output.qa, qa)
