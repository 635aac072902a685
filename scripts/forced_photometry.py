"""Rule forced_photometry: one pbcor image -> CSV of catalog-position fluxes (+ JSON sidecar)."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.logutil import to_file
from dsa110_contimg.photometry.pipeline import photometry_of_image, write_csv
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
table = photometry_of_image(sm.input.pbcor, sm.input.pb, sm.input.db, sm.wildcards.group, sm.config["photometry"],
                            sm.config["imaging"]["pblimit"])
write_csv(table, sm.output.csv)
side = {
    "group": sm.wildcards.group, "image": sm.input.pbcor, "n_sources": len(table),
    "n_flagged": int((table["flags"] != "").sum()), "columns": list(table.columns),
    "units": {"flux_jy": "Jy", "flux_err_jy": "Jy", "rms_jy": "Jy/beam (pbcor)", "mjd": "MJD UTC", "ra_deg": "deg ICRS"},
    "settings": sm.config["photometry"],
    "provenance": provenance_record(sm.config, inputs=[sm.input.pbcor, sm.input.pb, sm.input.db]),
}
with atomic_path(sm.output.sidecar) as tmp, open(tmp, "w") as fh:
    json.dump(side, fh, indent=1)
