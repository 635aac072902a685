"""Rule ledger: the groups in range that are skipped, and why."""
from dsa110_contimg.grouping import write_ledger
from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import discover_groups
from dsa110_contimg.settings import Settings

sm = snakemake  # noqa: F821
to_file(sm.log[0])
write_ledger(discover_groups(Settings.from_config(sm.config), read=True), sm.output[0])
