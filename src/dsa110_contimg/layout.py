"""Where every product of a run lives: one pattern per product, in date directories.

A group's products sit under its UTC date (``YYYY-MM-DD``, the date of the group id, which
is its first file's timestamp), so a month of 8,640 groups stays navigable::

    <out>/ms/<date>/<group>.ms            flagged Measurement Set (rule convert)
    <out>/ms/<date>/<group>.json          conversion and flag summary
    <out>/caltables/<date>/<group>.{K,B,G,json}   a calibrator transit's tables (rule solve)
    <out>/caltables/field/<date>/<group>{,.json}  a group's field gains (rule convert)
    <out>/calibrated/<date>/<group>.json  how the group was calibrated (rule image)
    <out>/images/<date>/<group>/<group>.<kind>   FITS, QA JSON, thumbnail (rule image)
    <out>/photometry/<date>.{csv,json}    forced photometry of that date's images

Patterns hold the wildcards ``{date}`` and ``{group}`` (the rules' wildcards);
:func:`path` fills them for one group.
"""

from __future__ import annotations

import os

PATTERNS = {
    "ms": "ms/{date}/{group}.ms",
    "ms_summary": "ms/{date}/{group}.json",
    "caltables": "caltables/{date}/{group}",
    "transit": "caltables/{date}/{group}.json",
    "field_tables": "caltables/field/{date}/{group}",
    "field": "caltables/field/{date}/{group}.json",
    "calibrated": "calibrated/{date}/{group}.json",
    "images": "images/{date}/{group}",
    "qa_cal": "qa/cal/{date}/{group}",
}
"""Product -> path pattern relative to the output directory ({date}, {group} wildcards)."""


def day(group: str) -> str:
    """The UTC date directory (``YYYY-MM-DD``) of a group id ``YYYY-MM-DDTHH:MM:SS``."""
    return group[:10]


def pattern(out: str, product: str) -> str:
    """``<out>/<pattern>`` with the ``{date}`` and ``{group}`` wildcards left in (for rules)."""
    return f"{out}/{PATTERNS[product]}"


def path(out: str, product: str, group: str) -> str:
    """The path of ``product`` for one group."""
    return pattern(out, product).format(date=day(group), group=group)


def image(out: str, group: str, kind: str) -> str:
    """An image product of one group, in the group's image directory (rule image's output):
    ``kind`` is the suffix, e.g. ``.image.pbcor.fits``, ``.pb.fits``, ``.qa.json``, ``.png``."""
    return image_file(path(out, "images", group), kind)


def image_file(image_dir: str, kind: str) -> str:
    """An image product inside one group's image directory ``images/<date>/<group>/``: the
    group is the directory's name, ``kind`` the suffix (as in :func:`image`)."""
    group = os.path.basename(image_dir.rstrip("/"))
    return os.path.join(image_dir, f"{group}{kind}")


def photometry_day(out: str, date: str, ext: str = "csv") -> str:
    """Forced photometry of one date's images (``ext`` csv or json)."""
    return f"{out}/photometry/{date}.{ext}"
