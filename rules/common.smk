# Input functions and shared helpers.  All logic lives in the dsa110_contimg package.
import os

from dsa110_contimg.selection import discover_groups, raw_dir


OUT = config["output_dir"]
SIMULATE = not config["input_dir"]
SIM_DIR = f"{OUT}/sim"
RAW_DIR = raw_dir(config)
GROUP_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


wildcard_constraints:
    group=GROUP_RE,


GROUPS = {g.group_id: g for g in discover_groups(config)}


def complete_groups():
    """Ids of the groups in range that are complete (and readable, for real data)."""
    return sorted(gid for gid, g in GROUPS.items() if g.ok)


def skipped_groups_digest():
    """Text that changes whenever the set of skipped groups (or their reasons) changes."""
    return ";".join(f"{gid}|{g.reason}|{len(g.files)}" for gid, g in sorted(GROUPS.items()) if not g.ok)


def group_files(wildcards):
    """The subband files of one group, subband order."""
    return [p for _, p in sorted(GROUPS[wildcards.group].files.items())]


def convert_inputs(wildcards):
    """Real data: the files themselves; simulated: the simulator's group directory."""
    if SIMULATE:
        return {"raw": f"{RAW_DIR}/{wildcards.group}"}
    return {"raw": group_files(wildcards)}


def ledger_inputs(wildcards):
    """Simulated mode: the ledger waits for the simulator (it lists what was written)."""
    if SIMULATE:
        return [f"{RAW_DIR}/{gid}" for gid in sorted(GROUPS)]
    return []


def ms_targets():
    return [f"{OUT}/ms/{gid}.ms" for gid in complete_groups()]
