"""Rule master_catalog: survey tables -> master_sources.sqlite3 (+ JSON summary)."""
import json

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.catalog.build_master import build_master
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record

sm = snakemake  # noqa: F821
to_file(sm.log[0])
cat = sm.config["catalog"]
inputs = {k: sm.input[k] for k in ("nvss", "vlass", "first") if k in sm.input.keys()}
summary = build_master(
    inputs["nvss"], sm.output.db, vlass=inputs.get("vlass"), first=inputs.get("first"),
    columns=cat["columns"], units=cat["flux_units"], match_radius_arcsec=cat["match_radius_arcsec"],
    resolved_major_arcsec=cat["resolved_major_arcsec"], goodref_snr_min=cat["goodref_snr_min"],
    goodref_alpha_min=cat["goodref_alpha_min"], goodref_alpha_max=cat["goodref_alpha_max"],
    finalref_snr_min=cat["finalref_snr_min"], finalref_ids=cat["finalref_ids"] or None,
)
summary["provenance"] = provenance_record(sm.config, inputs=list(inputs.values()))
with atomic_path(sm.output.summary) as tmp, open(tmp, "w") as fh:
    json.dump(summary, fh, indent=1, default=str)
