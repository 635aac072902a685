"""QA of calibration tables: solution statistics (JSON) and plots (PNG).

Statistics per table: per antenna the median and scatter (MAD-based sigma) of amplitude
and phase (degrees) of its unflagged solutions and its flagged fraction; for K the
delays (ns).  Plots: delays per antenna, bandpass amplitude and phase per antenna
against frequency, gain amplitude and phase against time.
"""

from __future__ import annotations

import numpy as np
from casacore import tables

from ..atomic import atomic_path


def _robust_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else float("nan")


def read_caltable(path: str) -> dict:
    """Columns of a CASA caltable: antenna, time (MJD s), values (Nrow, Nchan, Npol), flags, freqs (Hz)."""
    with tables.table(path, ack=False) as t:
        cols = t.colnames()
        vals = t.getcol("CPARAM") if "CPARAM" in cols else t.getcol("FPARAM")
        out = {"antenna": t.getcol("ANTENNA1"), "time": t.getcol("TIME"), "values": vals, "flags": t.getcol("FLAG")}
    with tables.table(f"{path}::SPECTRAL_WINDOW", ack=False) as t:
        out["freqs"] = t.getcol("CHAN_FREQ")[0]
    with tables.table(f"{path}::ANTENNA", ack=False) as t:
        out["names"] = t.getcol("NAME")
    return out


def table_stats(path: str, kind: str, data_flagged_channels: np.ndarray | None = None) -> dict:
    """Solution statistics of one table (see module doc).

    ``data_flagged_channels`` (bool per channel): channels entirely flagged in the data
    (RFI); bandpass solutions there are reported apart from the solver's own flags.
    """
    ct = read_caltable(path)
    per_ant = {}
    for a in np.unique(ct["antenna"]):
        rows = ct["antenna"] == a
        v, f = ct["values"][rows], ct["flags"][rows]
        good = ~f
        entry = {"flagged_fraction": float(f.mean())}
        if kind == "K":
            entry["delay_ns"] = [float(np.median(v[:, 0, p][good[:, 0, p]])) if good[:, 0, p].any() else None for p in range(v.shape[2])]
        else:
            amp, ph = np.abs(v[good]), np.degrees(np.angle(v[good]))
            entry.update({"amp_median": float(np.median(amp)) if amp.size else None, "amp_sigma": _robust_sigma(amp),
                          "phase_median_deg": float(np.median(ph)) if ph.size else None, "phase_sigma_deg": _robust_sigma(ph)})
            if kind == "B" and data_flagged_channels is not None:
                usable = ~data_flagged_channels
                entry["flagged_fraction_usable_channels"] = float(f[:, usable].mean()) if usable.any() else 1.0
        per_ant[str(ct["names"][a])] = entry
    working = [e for e in per_ant.values() if e["flagged_fraction"] < 1.0]
    summary = {"kind": kind, "path": path, "n_antennas_solved": len(working), "n_antennas_flagged": len(per_ant) - len(working),
               "flagged_fraction_working": float(np.mean([e["flagged_fraction"] for e in working])) if working else 1.0}
    if kind == "B" and data_flagged_channels is not None and working:
        summary["flagged_fraction_working_usable_channels"] = float(np.mean([e["flagged_fraction_usable_channels"] for e in working]))
    return {"summary": summary, "per_antenna": per_ant}


def _save(fig, path: str) -> str:
    """Lay out, write and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def plot_tables(tabs: dict, png_prefix: str, title: str = "") -> list[str]:
    """Write ``<prefix>_delays.png``, ``_bandpass.png`` and ``_gains.png``; return the paths."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out = []
    k = read_caltable(tabs["K"])
    good = ~k["flags"][:, 0, :]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for p, lab in enumerate(("X", "Y")):
        m = good[:, p]
        ax.plot(k["antenna"][m], k["values"][m, 0, p], "o", ms=3, label=lab)
    ax.set(xlabel="antenna index", ylabel="delay (ns, rel. refant)", title=f"{title} delays")
    ax.legend()
    out.append(_save(fig, f"{png_prefix}_delays.png"))

    b = read_caltable(tabs["B"])
    fig, axs = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    fmhz = b["freqs"] / 1e6
    for r in range(len(b["antenna"])):
        for p in range(b["values"].shape[2]):
            m = ~b["flags"][r, :, p]
            if m.any():
                axs[0].plot(fmhz[m], np.abs(b["values"][r, m, p]), lw=0.6)
                axs[1].plot(fmhz[m], np.degrees(np.angle(b["values"][r, m, p])), lw=0.6)
    axs[0].set(ylabel="bandpass amplitude", title=f"{title} bandpass (all antennas, X and Y)")
    axs[1].set(xlabel="frequency (MHz)", ylabel="bandpass phase (deg)")
    out.append(_save(fig, f"{png_prefix}_bandpass.png"))

    g = read_caltable(tabs["G"])
    fig, axs = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    t0 = g["time"].min()
    for a in np.unique(g["antenna"]):
        rows = g["antenna"] == a
        for p in range(g["values"].shape[2]):
            m = ~g["flags"][rows, 0, p]
            if m.any():
                tt = (g["time"][rows][m] - t0) / 60.0
                axs[0].plot(tt, np.abs(g["values"][rows, 0, p][m]), lw=0.6)
                axs[1].plot(tt, np.degrees(np.angle(g["values"][rows, 0, p][m])), lw=0.6)
    axs[0].set(ylabel="gain amplitude", title=f"{title} gains")
    axs[1].set(xlabel="minutes since first solution", ylabel="gain phase (deg)")
    out.append(_save(fig, f"{png_prefix}_gains.png"))
    return out
