"""The CASA task calls the workflow makes, as the casatools calls inside those tasks.

``casatasks`` imports every CASA task (and scipy.stats, matplotlib...) on first use:
~2.3 s of each job's start-up, more than the work itself on a demo group, paid by every
solve, apply and self-calibration job.  The tasks used here (``applycal``, ``gaincal``,
``bandpass``, ``ft``) are thin wrappers over ``casatools.calibrater`` / ``imager``: open,
select, setapply / setsolve, correct / solve / ft.  These functions make the same tool
calls, with the tasks' defaults for everything not passed, so the tables and columns
are those of the tasks (``tests/test_calibration.py`` compares them bit for bit).

Convention (CASA): V_ij(observed) = g_i g_j^* V_ij(true); ``correct`` writes
CORRECTED_DATA = DATA / (g_i g_j^*) with the flags of ``applymode``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..casa_env import configure_casa

NO_AUTOCORRELATIONS = "ANTENNA1!=ANTENNA2"
"""gaincal and bandpass always exclude auto-correlations (their msselect)."""


def _calibrater():
    configure_casa()
    from casatools import calibrater  # noqa: PLC0415

    return calibrater()


def apply_tables(ms_path: str, *, tables: Sequence[str], interp: Sequence[str], applymode: str = "calflag",
                 calwt: bool = False) -> None:
    """``applycal(vis=ms_path, gaintable=tables, interp=interp, calwt=calwt, applymode=applymode,
    flagbackup=False)``: CORRECTED_DATA (created if absent) from DATA and the tables in order;
    ``calflag`` also flags data whose solutions are flagged."""
    if len(interp) != len(tables):
        raise ValueError(f"one interp per table: {len(tables)} tables, {len(interp)} interp")
    cb = _calibrater()
    try:
        cb.open(filename=ms_path, compress=False, addcorr=applymode not in ("flagonly", "flagonlystrict", "trial"),
                addmodel=False)
        cb.selectvis(time="", spw="", scan="", field="", intent="", observation="", baseline="", uvrange="",
                     chanmode="none", msselect="")
        for table, how in zip(tables, interp):
            cb.setapply(t=0.0, table=table, field="", calwt=calwt, spwmap=[-1], interp=how)
        if not cb.correct(applymode):
            raise RuntimeError(f"{ms_path}: CASA calibrater.correct failed; see the CASA log")
    finally:
        cb.close()


def solve_table(ms_path: str, *, gaintype: str, caltable: str, refant: str, solint: str = "inf", combine: str = "",
                calmode: str = "ap", uvrange: str = "", minsnr: float = 3.0, minblperant: int = 4,
                solnorm: bool = False, gaintables: Sequence[str] = ()) -> None:
    """``gaincal(gaintype="G" or "K", ...)`` or ``bandpass(bandtype="B", ...)`` (``gaintype="B"``)
    of DATA against MODEL_DATA (cross-correlations in ``uvrange``), with ``gaintables``
    applied first (linear interpolation, calwt=True, as the tasks do), into ``caltable``.
    CASA writes no table when there is no good solution at all."""
    if gaintype not in ("G", "K", "B"):
        raise ValueError(f"gaintype {gaintype!r}: G, K or B")
    cb = _calibrater()
    try:
        cb.open(filename=ms_path, compress=False, addcorr=False, addmodel=False)
        cb.selectvis(time="", spw="", scan="", field="", intent="", observation="", baseline="", uvrange=uvrange,
                     chanmode="none", msselect=NO_AUTOCORRELATIONS)
        for table in gaintables:
            cb.setapply(t=0.0, table=table, field="", calwt=True, spwmap=[-1], interp="linear")
        if gaintype == "G":
            cb.setsolve(type="G", t=solint, combine=combine, preavg=-1.0, refant=refant, refantmode="flex",
                        minblperant=minblperant, solnorm=solnorm, normtype="mean", minsnr=minsnr, table=caltable,
                        apmode=calmode, solmode="", rmsthresh=[], phaseonly=False, append=False)
        elif gaintype == "K":
            cb.setsolve(type="K", t=solint, combine=combine, preavg=-1.0, refant=refant, minblperant=minblperant,
                        minsnr=minsnr, table=caltable, apmode=calmode, phaseonly=False, append=False)
        else:
            cb.setsolve(type="B", t=solint, combine=combine, refant=refant, minblperant=minblperant, solnorm=solnorm,
                        minsnr=minsnr, table=caltable, append=False, fillgaps=0)
        cb.solve()
    finally:
        cb.close()


def predict_components(ms_path: str, *, complist: str) -> None:
    """``ft(vis=ms_path, complist=complist, usescratch=True)``: MODEL_DATA (created if absent)
    = the visibilities of the component list (replacing what was there)."""
    configure_casa()
    from casatools import imager  # noqa: PLC0415

    im = imager()
    try:
        im.open(ms_path, usescratch=True)
        im.selectvis(field="", spw="")
        im.ft(model=[], complist=complist, incremental=False)
    finally:
        im.close()
