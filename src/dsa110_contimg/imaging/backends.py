"""One interface over the imagers: every backend images an MS into the same FITS products.

A backend declares

- ``name``: its ``imaging.backend`` value;
- ``threads``: the cores its job really uses (the ``image`` rule's ``threads:`` reads it);
- ``mask_format``: the catalog clean mask it reads, ``"crtf"`` (a CASA region file) or
  ``"fits"`` (an image on the backend's own grid, :func:`.mask.mask_wcs`);
- ``beam_input``: which primary-beam input it reads, ``"vptable"`` or ``"beam_h5"``
  (its basename goes into the VPTABLE card);

and one keyword-only method ``image(...)`` that returns ``{product: FITS path}`` for the
products asked for (:func:`~.products.product_names`), each with the given header cards
and the restoring beam, the primary beam and the pbcor image drift-averaged through
:mod:`.primary_beam` when ``imaging.drift_pb``.

``BACKENDS`` maps ``imaging.backend`` to the backend's declaration (:class:`BackendSpec`),
which imports nothing heavy: the workflow reads ``threads`` while planning (a dry run
must not load CASA); ``BACKENDS[name].load()`` imports the implementation.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from ..settings import Imaging, Telescope


class Backend(Protocol):
    name: str
    threads: int
    mask_format: str
    beam_input: str

    def image(self, *, ms_path: str, work_prefix: str, target: str, imaging: Imaging, telescope: Telescope,
              geometry: dict, datacolumn: str, products: list[str], cards: dict, vptable: str, beam_h5: str,
              mask: str = "") -> dict[str, str]:
        """Image ``ms_path`` (scratch files under ``work_prefix``) into ``<target>.<product>.fits``."""
        ...


@dataclass(frozen=True)
class BackendSpec:
    """What a backend declares; ``implementation`` is ``"<module of this package>:<class>"``."""

    name: str
    threads: int
    mask_format: str  # "crtf" | "fits"
    beam_input: str  # "vptable" | "beam_h5"
    implementation: str

    def load(self) -> Backend:
        """The backend object (its module imported now)."""
        module, cls = self.implementation.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)(self)


class BackendBase:
    """Carries a backend's declaration as attributes (``name``, ``threads``, ...)."""

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self.name, self.threads = spec.name, spec.threads
        self.mask_format, self.beam_input = spec.mask_format, spec.beam_input


BACKENDS: dict[str, BackendSpec] = {s.name: s for s in (
    BackendSpec("tclean", threads=1, mask_format="crtf", beam_input="vptable", implementation="tclean_backend:TcleanBackend"),
    BackendSpec("wsclean", threads=2, mask_format="fits", beam_input="beam_h5", implementation="wsclean_backend:WscleanBackend"),
)}
