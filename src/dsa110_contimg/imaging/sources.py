"""The catalog sources imaging uses, read from the master catalog."""

from __future__ import annotations

from ..catalog.build_master import read_sources
from ..sky import PointSource, alpha_or_default


def sources_from_master(db_path: str) -> list[PointSource]:
    """Every source of the master catalog ``db_path`` as a point source: ``source_id``,
    ``ra_deg``/``dec_deg``, ``s_nvss`` (Jy at 1.4 GHz), ``alpha`` (missing: -0.7)."""
    df = read_sources(db_path)
    return [PointSource(r.source_id, r.ra_deg, r.dec_deg, r.s_nvss, alpha_or_default(r.alpha)) for r in df.itertuples()]
