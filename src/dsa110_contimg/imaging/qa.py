"""Image QA: robust rms from the residual, peak, dynamic range, beam, >5 sigma components, thumbnail."""

from __future__ import annotations

import numpy as np


def robust_rms(a: np.ndarray) -> float:
    """1.4826 x median absolute deviation of the finite pixels."""
    v = a[np.isfinite(a)]
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else float("nan")


def image_stats(image_fits: str, residual_fits: str) -> dict:
    """Statistics of a restored image and its residual (both FITS, Jy/beam)."""
    from astropy.io import fits  # noqa: PLC0415
    from scipy import ndimage  # noqa: PLC0415

    img = np.squeeze(fits.getdata(image_fits))
    res = np.squeeze(fits.getdata(residual_fits))
    h = fits.getheader(image_fits)
    rms = robust_rms(res)
    peak = float(np.nanmax(img))
    labels, n = ndimage.label(np.nan_to_num(img) > 5 * rms)
    return {
        "rms_jy": rms,
        "peak_jy": peak,
        "dynamic_range": peak / rms if rms > 0 else float("inf"),
        "beam_arcsec": [h["BMAJ"] * 3600, h["BMIN"] * 3600, h["BPA"]],
        "n_components_5sigma": int(n),
        "bunit": h.get("BUNIT", ""),
        "freq_hz": float(h.get("CRVAL3", np.nan)),
    }


def thumbnail(image_fits: str, png: str, catalog: list[tuple[str, float, float]] | None = None, title: str = "") -> str:
    """PNG of the image with the restoring beam (lower left) and catalog positions (circles)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from astropy.io import fits  # noqa: PLC0415
    from astropy.wcs import WCS  # noqa: PLC0415
    from matplotlib.patches import Ellipse  # noqa: PLC0415

    h = fits.getheader(image_fits)
    img = np.squeeze(fits.getdata(image_fits))
    w = WCS(h).celestial
    rms = robust_rms(img)
    fig = plt.figure(figsize=(6.5, 6))
    ax = fig.add_subplot(projection=w)
    ax.imshow(img, origin="lower", cmap="gray_r", vmin=-2 * rms, vmax=10 * rms)
    ax.set(xlabel="RA", ylabel="Dec", title=title)
    pix = abs(h["CDELT2"])
    ax.add_patch(Ellipse((0.06 * img.shape[1], 0.06 * img.shape[0]), h["BMIN"] / pix, h["BMAJ"] / pix, angle=h["BPA"],
                         edgecolor="cyan", facecolor="none", lw=1.2))
    for _name, ra, dec, *_rest in catalog or []:
        x, y = w.world_to_pixel_values(ra, dec)
        if 0 <= x < img.shape[1] and 0 <= y < img.shape[0]:
            ax.plot(x, y, "o", mfc="none", mec="lime", ms=9, mew=0.8)
    fig.savefig(png, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return png
