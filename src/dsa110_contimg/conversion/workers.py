"""How many worker processes one group's conversion gets (also the convert rule's threads).

The parallel writer's worker processes pay off on full-size groups; on small ones (the
simulated demo: 64 channels, 37 antennas) a second worker costs more than it saves
(4.7 s with one, 5.5 s with two) and keeps a core from another job.  The decision is
made before the files exist (Snakemake reserves threads when it schedules the job), so
it uses the UVH5 bytes on disk for real data and the simulation's shape otherwise.
"""

from __future__ import annotations

import os

from ..bands import N_SUBBANDS
from ..settings import Conversion, Simulation

#: UVH5 bytes per visibility cell (complex64 data, float32 nsamples, bool flag)
UVH5_BYTES_PER_CELL = 13


def simulated_group_mb(simulation: Simulation) -> float:
    """UVH5 size (MB) of one simulated group: baselines (with autos) x times x channels x 2 pol.
    Antennas: ``active_antennas`` if listed, else ``n_active``."""
    n_ant = len(simulation.active_antennas) or int(simulation.n_active)
    cells = n_ant * (n_ant + 1) // 2 * simulation.ntimes * simulation.nchan_per_subband * N_SUBBANDS * 2
    return cells * UVH5_BYTES_PER_CELL / 1e6


def files_mb(paths: list[str]) -> float:
    """Size (MB) of the files that exist among ``paths``."""
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) / 1e6


def conversion_workers(input_mb: float, *, conversion: Conversion) -> int:
    """``conversion.workers``, or 1 below ``conversion.parallel_min_mb`` MB of UVH5 input."""
    return 1 if input_mb < conversion.parallel_min_mb else int(conversion.workers)
