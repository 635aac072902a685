"""The point-source sky model shared by every stage (calibrator models, static beam,
clean masks, seeding, photometry references).

Conventions: ICRS positions in degrees; flux density in Jy at the reference frequency
:data:`REF_FREQ_HZ` (1.4 GHz, the NVSS frequency); spectral index ``alpha`` with
S(nu) = S_1.4 (nu / 1.4 GHz)^alpha.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import numpy as np

REF_FREQ_HZ = 1.4e9
"""Reference frequency of every catalog flux in the package (Hz): NVSS's 1.4 GHz."""

DEFAULT_ALPHA = -0.7
"""Spectral index assumed for a source whose catalog gives none (optically thin synchrotron)."""


@dataclass(frozen=True)
class PointSource:
    """A point source: ICRS position (deg), flux density at :data:`REF_FREQ_HZ` (Jy), spectral index."""

    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    alpha: float

    def flux_at(self, freq_hz):
        """Flux density (Jy) at ``freq_hz`` (Hz; scalar or array)."""
        return self.flux_jy * (np.asarray(freq_hz) / REF_FREQ_HZ) ** self.alpha


def alpha_or_default(alpha) -> float:
    """A catalog spectral index, or :data:`DEFAULT_ALPHA` where it is missing (None or NaN)."""
    if alpha is None:
        return DEFAULT_ALPHA
    a = float(alpha)
    return DEFAULT_ALPHA if math.isnan(a) else a


def read_sky_csv(path: str) -> list[PointSource]:
    """The simulator's ``sky.csv`` (columns ``name``, ``RAJ2000``, ``DEJ2000`` in degrees,
    ``S1400_mJy``) as point sources; the file has no spectral index: :data:`DEFAULT_ALPHA`."""
    with open(path) as fh:
        return [PointSource(r["name"], float(r["RAJ2000"]), float(r["DEJ2000"]), float(r["S1400_mJy"]) / 1000.0, DEFAULT_ALPHA)
                for r in csv.DictReader(fh)]
