"""Rule ledger: the groups in range that are skipped, and why."""
import logging

from dsa110_contimg.grouping import write_ledger
from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import discover_groups

sm = snakemake  # noqa: F821
to_file(sm.log[0])
groups = discover_groups(sm.config, read=True)
write_ledger(groups, sm.output[0])
skipped = [g for g in groups if not g.ok]
logging.info("%d groups in range, %d skipped", len(groups), len(skipped))
for g in skipped:
    logging.warning("skipped %s: %s", g.group_id, g.reason)
