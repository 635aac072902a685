"""Diagnostic PNGs: light curves, per-epoch correction factors, the eta-V plane.

Figures are built with the object-oriented :class:`matplotlib.figure.Figure` (Agg
rendering, no pyplot state, no backend switch) and written atomically.  Fluxes are
plotted in mJy (= 1e3 x the Jy columns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dsa110_contimg.atomic import atomic_path

MJY = 1e3


def _save(fig: Figure, out_png: str) -> str:
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return out_png


def _epoch_grid(table: pd.DataFrame) -> pd.DataFrame:
    """group, mjd, corrected (any row of the epoch corrected) for every epoch, by mjd."""
    agg = {"mjd": ("mjd", "median")}
    if "corrected" in table.columns:
        agg["corrected"] = ("corrected", "any")
    ep = table.groupby(table["group"].astype(str)).agg(**agg).reset_index()
    if "corrected" not in ep.columns:
        ep["corrected"] = False
    return ep.sort_values("mjd").reset_index(drop=True)


def plot_lightcurves(table: pd.DataFrame, source_ids: Sequence[str], out_png: str,
                     title: str | None = None, ncols: int = 3) -> str:
    """One panel per source: raw ``flux_jy`` and normalised ``norm_flux_jy`` (mJy) vs mjd.

    Each source is re-indexed onto all epochs of ``table`` so missing epochs appear
    as gaps in the connecting lines; rug ticks at the bottom mark every epoch.  Raw
    points of epochs whose flux was not corrected (``corrected`` False) are hollow;
    the normalised curve only has corrected points.  Flagged rows are drawn as 'x'.
    """
    ids = [str(s) for s in source_ids]
    ep = _epoch_grid(table)
    n = max(len(ids), 1)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.2 * ncols, 2.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    has_norm = "norm_flux_jy" in table.columns
    span = (ep["mjd"].min(), ep["mjd"].max()) if len(ep) else (0.0, 1.0)
    pad = 0.02 * (span[1] - span[0] or 1.0)
    for ax, sid in zip(axes, ids):
        rows = table[table["source_id"].astype(str) == sid].assign(group=lambda d: d["group"].astype(str))
        lc = ep[["group", "mjd"]].merge(rows.drop(columns=["mjd"]), on="group", how="left")
        x = lc["mjd"].to_numpy()
        corr = lc["corrected"].eq(True).to_numpy() if "corrected" in lc else np.zeros(len(lc), bool)
        flagged = (lc["flags"].fillna("").astype(str).str.strip() != "").to_numpy() if "flags" in lc else np.zeros(len(lc), bool)
        raw, raw_e = lc["flux_jy"].to_numpy() * MJY, lc["flux_err_jy"].to_numpy() * MJY
        ax.plot(x, raw, "-", color="0.6", lw=0.8)
        for sel, kw in ((corr & ~flagged, {"mfc": "0.5"}), (~corr & ~flagged, {"mfc": "none"}),
                        (flagged, {"marker": "x"})):
            if sel.any():
                ax.errorbar(x[sel], raw[sel], raw_e[sel], fmt=kw.pop("marker", "o"), color="0.5", ms=4,
                            capsize=0, lw=0.8, label=None, **kw)
        if has_norm:
            nf, ne = lc["norm_flux_jy"].to_numpy() * MJY, lc["norm_err_jy"].to_numpy() * MJY
            ax.plot(x, nf, "-", color="C0", lw=0.8)
            ax.errorbar(x, nf, ne, fmt="o", color="C0", ms=4, capsize=0, lw=0.8)
        ax.plot(ep["mjd"], np.zeros(len(ep)), "|", color="k", ms=6, transform=ax.get_xaxis_transform())
        ref = bool(rows["is_reference"].any()) if "is_reference" in rows else False
        ax.set_title(f"{sid}{' (ref)' if ref else ''}  n={int(np.isfinite(raw).sum())}/{len(ep)}", fontsize=9)
        ax.set_xlim(span[0] - pad, span[1] + pad)
        ax.set_xlabel("MJD", fontsize=8)
        ax.set_ylabel("flux density (mJy)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(ids):]:
        ax.set_visible(False)
    if len(ids):
        handles = [Line2D([], [], color="0.5", marker="o", ls="-", label="raw"),
                   Line2D([], [], color="0.5", marker="o", mfc="none", ls="", label="raw, uncorrected epoch")]
        if has_norm:
            handles.append(Line2D([], [], color="C0", marker="o", ls="-", label="normalised"))
        axes[0].legend(handles=handles, fontsize=6, loc="best")
    fig.suptitle(title or f"light curves ({len(ids)} sources)")
    return _save(fig, out_png)


def plot_corrections(epochs: pd.DataFrame, out_png: str, truth: Mapping[str, float] | None = None,
                     title: str | None = None) -> str:
    """Per-epoch correction factor (with 1-sigma errors) vs mjd; uncorrected epochs as red 'x' at 1.

    ``truth`` maps group -> injected flux scale, on the same footing as the
    corrections (i.e. relative to the baseline epochs: divide the injected scales by
    their median over the first ``baseline_epochs`` epochs).  It is overlaid and the
    rms of (correction - truth) over corrected epochs goes in the title.
    """
    ep = epochs.sort_values("mjd")
    ok = ep["corrected"].astype(bool).to_numpy()
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.errorbar(ep["mjd"][ok], ep["correction"][ok], ep["correction_err"][ok], fmt="o-", ms=4,
                color="C0", capsize=2, lw=1, label="correction")
    if (~ok).any():
        ax.plot(ep["mjd"][~ok], np.ones((~ok).sum()), "x", color="C3", ms=8, mew=2,
                label=f"uncorrected ({int((~ok).sum())})")
    text = title or "per-epoch flux-scale correction"
    if truth:
        t = ep["group"].astype(str).map({str(k): float(v) for k, v in truth.items()}).to_numpy(dtype=float)
        have = np.isfinite(t)
        ax.plot(ep["mjd"][have], t[have], "s--", mfc="none", color="C1", ms=5, lw=1, label="truth")
        both = have & ok
        if both.any():
            rms = float(np.sqrt(np.mean((ep["correction"].to_numpy()[both] - t[both]) ** 2)))
            text += f"\nrms(correction - truth) = {rms:.4f} over {int(both.sum())} epochs"
    ax.axhline(1.0, color="0.7", lw=0.8)
    ax.set_xlabel("MJD")
    ax.set_ylabel("correction factor")
    ax.set_title(text, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, out_png)


def plot_chi2_eta(var_table: pd.DataFrame, out_png: str, *, chi2_nu_min: float,
                  v_min: float | None = None, title: str | None = None, max_labels: int = 20) -> str:
    """VAST-style eta-V plane (log-log): eta (== chi2_nu) on x, V = std/mean on y.

    The eta threshold ``chi2_nu_min`` is drawn (and ``v_min`` if given).  Candidates
    (``ese_candidate``) are red and labelled (most significant ``max_labels``);
    references (``is_reference``) are green squares; others grey.  Sources with
    eta <= 0, V <= 0 or NaN cannot be shown on log axes and are counted in the title.
    """
    t = var_table
    eta = t["eta"].to_numpy(dtype=float)
    v = np.abs(t["V"].to_numpy(dtype=float))
    ok = np.isfinite(eta) & np.isfinite(v) & (eta > 0) & (v > 0)
    cand = t["ese_candidate"].astype(bool).to_numpy() if "ese_candidate" in t else np.zeros(len(t), bool)
    ref = t["is_reference"].eq(True).to_numpy() if "is_reference" in t else np.zeros(len(t), bool)
    fig = Figure(figsize=(6.5, 5), layout="constrained")
    ax = fig.subplots()
    for sel, kw in ((ok & ~cand & ~ref, {"color": "0.55", "marker": "o", "s": 12, "label": "sources"}),
                    (ok & ref & ~cand, {"color": "C2", "marker": "s", "s": 22, "label": "references"}),
                    (ok & cand, {"color": "C3", "marker": "*", "s": 80, "label": "ESE candidates"})):
        if sel.any():
            ax.scatter(eta[sel], v[sel], zorder=3, **kw)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(chi2_nu_min, color="C3", ls="--", lw=1, label=f"eta = {chi2_nu_min:g}")
    if v_min is not None:
        ax.axhline(v_min, color="C1", ls="--", lw=1, label=f"V = {v_min:g}")
    idx = np.flatnonzero(ok & cand)
    if "significance" in t:
        idx = idx[np.argsort(-t["significance"].to_numpy(dtype=float)[idx])]
    for i in idx[:max_labels]:
        ax.annotate(str(t["source_id"].iloc[i]), (eta[i], v[i]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel(r"$\eta$ (= $\chi^2_\nu$)")
    ax.set_ylabel("V = std / mean")
    hidden = int((~ok).sum())
    ax.set_title((title or f"variability: {int(cand.sum())} candidates of {len(t)} sources")
                 + (f" ({hidden} not shown)" if hidden else ""), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, out_png)
