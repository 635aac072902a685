"""Which groups a workflow run covers: the bridge between config and grouping.

Real data (``input_dir`` set): files under ``input_dir`` are discovered, grouped,
range-selected and their headers checked.  Simulated demo (``input_dir`` empty):
the simulator's plan says which files will exist, so the groups are known before
anything is written and a dry run lists every job without touching data.
"""

from __future__ import annotations

import os

from . import grouping
from .simulate.scenario import plan


def raw_dir(config: dict) -> str:
    """Directory holding the raw subband files (the simulator's when input_dir is empty)."""
    return config["input_dir"] or os.path.join(config["output_dir"], "sim", "raw")


def planned_paths(config: dict) -> list[str]:
    """Every file the simulator writes: ``raw_dir/<group id>/<timestamp>_sbNN.hdf5``."""
    root = raw_dir(config)
    out = []
    for g in plan(config["simulation"], config["telescope"]):
        out += [os.path.join(root, g.group_id, name) for name in g.filenames().values()]
    return out


def discover_groups(config: dict, *, read: bool | None = None) -> list[grouping.Group]:
    """Groups in ``start``..``end``, each complete or carrying the reason it is skipped.

    ``read`` (default: only for real data) opens every file of complete groups to
    catch unreadable or inconsistent subbands.
    """
    simulate = not config["input_dir"]
    if read is None:
        read = not simulate
    if simulate:
        groups = grouping.cluster(planned_paths(config), config["group_tolerance_s"])
        groups = grouping.select_range(groups, config["start"], config["end"])
        grouping.check_complete(groups, config["expected_subbands"])
        if read:
            grouping.check_readable(groups)
        return groups
    return grouping.discover(
        raw_dir(config),
        start=config["start"],
        end=config["end"],
        tolerance_s=config["group_tolerance_s"],
        expected=config["expected_subbands"],
        read=read,
    )
