"""Which gain tables a group gets: the transit, its own field solve, or a graded fallback.

Pure decisions over solve summaries (no CASA).  For a group outside every transit's gain
window (``calibration.gain_validity_h``), with K and B from the transit within
``bp_validity_h`` (``transit``), in order:

1. ``field``: its own field solve (:mod:`.field_gains`) when that solve is good:
   K, B, the transit's G, then the field phase (and amplitude) tables.
2. ``fallback_transit``: the transit's G alone, when it is at most
   ``gain_fallback_max_age_h`` hours from the group.
3. ``fallback_previous``: the nearest good field solve among the preceding groups
   (``previous``, at most ``fallback_lookback_groups`` of them), with the tables it was
   solved on, when it is within the last age grade (``age_grades_h[-1]``).

Every gain table is graded by its age (:func:`.validity.grade`: fresh / aging / stale).
When none applies, :class:`~.validity.ApplyError` says why each link failed.
"""

from __future__ import annotations

from ..settings import Calibration
from .validity import INTERP, ApplyError, grade


def _hours(a_mjd: float, b_mjd: float) -> float:
    return abs(a_mjd - b_mjd) * 24.0


def choose_gains(*, mid_mjd: float, transit: dict, field: dict | None, previous: list[dict],
                 calibration: Calibration) -> dict:
    """The tables for a field-path group at ``mid_mjd`` (MJD).  ``transit``: the K/B transit's
    solve summary (``tables`` K/B/G, ``mid_mjd``, ``ms``); ``field``: this group's field
    solve summary (``ok``, ``reason``, ``tables``, ``applied``) or None; ``previous``: the
    preceding groups' field summaries.  Returns ``path``, ``tables`` and ``interp`` (in
    apply order), ``gain`` (the gain tables' source group, age in hours and grade) and
    ``field`` (this group's solve: ok, reason, quality)."""
    cc = calibration
    limits = cc.age_grades_h
    kt, bt, gt = (transit["tables"][k] for k in ("K", "B", "G"))
    t_age = _hours(mid_mjd, transit["mid_mjd"])
    base = {"field": _field_record(field)}
    why = []
    if field is not None and field.get("ok"):
        solved = [field["tables"][k] for k in ("p", "ap") if k in field["tables"]]
        return {**base, "path": "field", "tables": [kt, bt, gt, *solved],
                "interp": [INTERP["K"], INTERP["B"], *[INTERP["G"]] * (1 + len(solved))],
                "gain": {"source": "field", "group_mid_mjd": field["mid_mjd"], "age_h": 0.0, "grade": grade(0.0, limits),
                         "transit_age_h": t_age}}
    why.append(f"field solve: {field['reason'] if field else 'not run'}")
    if t_age <= cc.gain_fallback_max_age_h:
        return {**base, "path": "fallback_transit", "tables": [kt, bt, gt], "interp": [INTERP[k] for k in "KBG"],
                "gain": {"source": "transit", "group_mid_mjd": transit["mid_mjd"], "age_h": t_age, "grade": grade(t_age, limits),
                         "transit_age_h": t_age}, "fallback_reason": why[0]}
    why.append(f"transit gains {t_age:.1f} h old (calibration.gain_fallback_max_age_h {cc.gain_fallback_max_age_h:g} h)")
    good = sorted((p for p in previous if p.get("ok") and p["mid_mjd"] < mid_mjd), key=lambda p: mid_mjd - p["mid_mjd"])
    if good and _hours(mid_mjd, good[0]["mid_mjd"]) <= limits[-1]:
        p = good[0]
        age = _hours(mid_mjd, p["mid_mjd"])
        solved = [p["tables"][k] for k in ("p", "ap") if k in p["tables"]]
        applied = list(p["applied"])
        return {**base, "path": "fallback_previous", "tables": [*applied, *solved],
                "interp": [INTERP["K"], INTERP["B"], *[INTERP["G"]] * (len(applied) - 2 + len(solved))],
                "gain": {"source": "previous", "group_ms": p["ms"], "group_mid_mjd": p["mid_mjd"], "age_h": age,
                         "grade": grade(age, limits), "transit_age_h": t_age},
                "fallback_reason": "; ".join(why)}
    why.append("no good field solve among the preceding groups" if not good else
               f"the last good field solve is {_hours(mid_mjd, good[0]['mid_mjd']):.1f} h old (beyond {limits[-1]:g} h)")
    raise ApplyError("no gain table can calibrate this group: " + "; ".join(why))


def _field_record(field: dict | None) -> dict | None:
    if field is None:
        return None
    keep = ("ok", "reason", "model", "refant", "quality_p", "quality_ap")
    return {k: field[k] for k in keep if k in field}
