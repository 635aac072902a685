"""Rule master_catalog: survey tables -> master_sources.sqlite3 (+ JSON summary)."""
from dsa110_contimg.catalog.build_master import write_master_catalog
from dsa110_contimg.logutil import to_file
from dsa110_contimg.provenance import provenance_record
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
tables = {k: sm.input[k] for k in ("nvss", "vlass", "first") if k in sm.input.keys()}
write_master_catalog(nvss=tables["nvss"], vlass=tables.get("vlass"), first=tables.get("first"), db_path=sm.output.db,
                     summary_path=sm.output.summary, catalog=Settings.from_config(sm.config).catalog,
                     provenance=provenance_record(sm.config, inputs=list(tables.values())))
