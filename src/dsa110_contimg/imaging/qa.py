"""Image QA: robust rms from the residual, peak, dynamic range, beam, >5 sigma components, thumbnail."""

from __future__ import annotations

import numpy as np

from ..atomic import atomic_path


def robust_rms(a: np.ndarray) -> float:
    """1.4826 x median absolute deviation of the finite pixels."""
    v = a[np.isfinite(a)]
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else float("nan")


def peak_subpixel(img: np.ndarray, x0: float, y0: float, box: int = 6) -> tuple[float, float, float]:
    """Peak value and sub-pixel position (x, y) of the brightest pixel within ``box`` of (x0, y0).

    ``img`` is indexed [y, x] (FITS order).  Through the brightest pixel and its neighbours
    along each axis a Gaussian is fitted (a parabola in log), which is exact for a Gaussian
    restoring beam; the peak combines both axes' corrections.
    """
    yi, xi = int(round(y0)), int(round(x0))
    cut = img[yi - box : yi + box + 1, xi - box : xi + box + 1]
    py, px = np.unravel_index(np.nanargmax(cut), cut.shape)

    def vertex(a, b, c):
        la, lb, lc = np.log(max(a, 1e-12)), np.log(b), np.log(max(c, 1e-12))
        den = la - 2 * lb + lc
        if den >= 0:
            return 0.0, lb
        d = 0.5 * (la - lc) / den
        return d, lb - 0.25 * (la - lc) * d

    Y, X = yi - box + py, xi - box + px  # the brightest pixel in the full image (neighbours may lie outside the box)
    dx, lx = vertex(img[Y, X - 1], img[Y, X], img[Y, X + 1])
    dy, ly = vertex(img[Y - 1, X], img[Y, X], img[Y + 1, X])
    return float(np.exp(lx + ly - np.log(img[Y, X]))), X + dx, Y + dy


def image_stats(image_fits: str, residual_fits: str) -> dict:
    """Statistics of a restored image and its residual (both FITS, Jy/beam)."""
    from astropy.io import fits
    from scipy import ndimage

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


THUMB_MAX_PX = 640
"""Images wider than this (pixels) are block-averaged for the thumbnail (the noise scale comes from the full image)."""


def thumbnail(image_fits: str, png: str, overlay=(), title: str = "") -> str:
    """PNG of the image with the restoring beam (lower left) and the positions of the
    ``overlay`` sources (anything with ``ra_deg``/``dec_deg``, e.g. :class:`~dsa110_contimg.sky.PointSource`; circles).

    Axes: offsets (deg) from the image centre along the projection plane (east to the left),
    the centre's RA/Dec in the labels.  Plain axes, not astropy's WCSAxes: those cost ~1 s of
    import and drawing per image, more than the rest of the thumbnail."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.io import fits
    from astropy.wcs import WCS
    from matplotlib.patches import Ellipse

    h = fits.getheader(image_fits)
    full = np.squeeze(fits.getdata(image_fits))
    rms = robust_rms(full)
    # the PNG is ~520 px wide: show k x k block means
    k = max(1, int(np.ceil(max(full.shape) / THUMB_MAX_PX)))
    ny, nx = (full.shape[0] // k) * k, (full.shape[1] // k) * k
    img = full[:ny, :nx].reshape(ny // k, k, nx // k, k).mean(axis=(1, 3)) if k > 1 else full
    w = WCS(h).celestial
    pix = abs(h["CDELT2"])  # deg per full-resolution pixel
    cx, cy = h["CRPIX1"] - 1.0, h["CRPIX2"] - 1.0  # 0-based reference pixel (the phase centre)

    def offsets(x, y):  # full-resolution pixel -> (east-west, north-south) offset in deg (east = +)
        return -(np.asarray(x) - cx) * pix, (np.asarray(y) - cy) * pix

    (x0, x1), (y0, y1) = offsets(np.array([-0.5, nx - 0.5]), np.array([-0.5, ny - 0.5]))
    fig = plt.figure(figsize=(6.5, 6))
    ax = fig.add_subplot()
    ax.imshow(img, origin="lower", cmap="gray_r", vmin=-2 * rms, vmax=10 * rms, extent=(x0, x1, y0, y1))
    ra_h = (h["CRVAL1"] % 360.0) / 15.0
    ax.set(xlabel=f"offset east of RA {int(ra_h):02d}h{(ra_h % 1) * 60:04.1f}m (deg)",
           ylabel=f"offset north of Dec {h['CRVAL2']:+.2f} (deg)", title=title)
    bx, by = x0 + 0.06 * (x1 - x0), y0 + 0.06 * (y1 - y0)
    # BPA runs from north through east; the x axis here points east, so the angle (counter-clockwise from +x) is -BPA
    ax.add_patch(Ellipse((bx, by), h["BMIN"], h["BMAJ"], angle=-h["BPA"], edgecolor="cyan", facecolor="none", lw=1.2))
    for s in overlay:
        x, y = w.world_to_pixel_values(s.ra_deg, s.dec_deg)
        if -0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5:
            ax.plot(*offsets(x, y), "o", mfc="none", mec="lime", ms=9, mew=0.8)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return png


def weighting_noise_ratio(ms_path: str, imsize: int, cell_arcsec: float, robust: float) -> float:
    """Point-source noise of Briggs(``robust``) weighting relative to natural weighting.

    CASA's own calculation (``imager.apparentsens``, 'relative to natural') on the MS's
    unflagged data and weights, for the image grid actually used.  Multiply the
    natural-weighting thermal noise by this to predict the Briggs image's thermal noise.
    """
    from ..casa_env import configure_casa

    configure_casa()
    from casatools import imager

    im = imager()
    try:
        im.open(ms_path)
        im.selectvis(vis=ms_path)
        im.defineimage(nx=int(imsize), ny=int(imsize), cellx=f"{cell_arcsec:.4f}arcsec", celly=f"{cell_arcsec:.4f}arcsec")
        im.weight(type="briggs", robust=float(robust))
        ok, _sens, rel = im.apparentsens()
    finally:
        im.close()
    if not ok:
        raise RuntimeError(f"{ms_path}: imager.apparentsens failed")
    return float(rel)
