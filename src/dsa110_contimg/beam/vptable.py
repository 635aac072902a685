"""Build a CASA voltage-pattern table from the H5 beam model.

Jones mapping (DSA-110 convention): Jxx = X.ephi, Jxy = -X.etheta, Jyx = Y.ephi,
Jyy = -Y.etheta.  A sample at (theta, phi) lies at elevation 90 - theta (deg) and
azimuth phi (deg) when the boresight is at the zenith; the patterns are resampled
(linear in theta, periodic in phi) onto a regular grid of offsets from boresight,
x = theta sin(phi) (towards azimuth 90 deg), y = theta cos(phi) (towards azimuth 0),
in degrees.  The complex image has an AZEL direction axis (units deg, reference
pixel at the centre, reference value [0, 0], increments = grid spacing), a Stokes axis
XX, XY, YX, YY and one spectral channel at the chosen frequency.  It is registered with
``vpmanager.setpbimage(telescope, compleximage, antnames=['*'])`` and saved with
``saveastable``.  The complex image stays beside the table (``<table>.image``): the
table refers to it by absolute path.

Orientation on the sky: a DSA-110 dish tilts about an east-west axis, so phi stays the
position angle on the sky (north through east) at every declination; tclean applies the
table that way (a squinted model lands in the same sky direction in tclean's .pb as in
the WSClean path's ``primary_beam.model_pb_on_image`` and the static beam's ``source_beam``:
``tests/test_imaging.py::test_beam_orientation_on_the_sky``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile

import numpy as np

from ..casa_env import configure_casa
from .h5model import read_model


def jones_on_grid(model: dict, npix: int = 129, extent_deg: float | None = None) -> tuple[np.ndarray, float]:
    """Jones terms (4, npix, npix) [xx, xy, yx, yy] on an offset grid; returns (array, cell_deg).

    Pixel (i, j) is at x = (i - c) cell, y = (j - c) cell, c = npix // 2.  Outside the
    model's theta range the pattern is 0.
    """
    tmax = math.degrees(model["theta"][-1])
    extent = extent_deg or tmax
    cell = 2 * extent / (npix - 1)
    c = npix // 2
    ii, jj = np.meshgrid(np.arange(npix) - c, np.arange(npix) - c, indexing="ij")
    x, y = ii * cell, jj * cell
    th = np.radians(np.hypot(x, y))
    ph = np.mod(np.arctan2(x, y), 2 * np.pi)
    return jones_at(model, th, ph).astype(np.complex64), cell


def jones_at(model: dict, th: np.ndarray, ph: np.ndarray) -> np.ndarray:
    """Jones terms (4, *th.shape) [xx, xy, yx, yy] at angles from boresight ``th`` and
    azimuth ``ph`` (radians, from north through east); bilinear in (theta, phi), periodic
    in phi, 0 beyond the model's theta range."""
    theta, phi = model["theta"], model["phi"]
    terms = [model["X/ephi"], -model["X/etheta"], model["Y/ephi"], -model["Y/etheta"]]
    out = np.zeros((4, *th.shape), np.complex128)
    inside = th <= theta[-1]
    ti = np.clip(np.searchsorted(theta, th[inside]) - 1, 0, theta.size - 2)
    tw = (th[inside] - theta[ti]) / (theta[ti + 1] - theta[ti])
    dphi = 2 * np.pi / phi.size
    pf = (ph[inside] - phi[0]) / dphi
    pi0 = np.floor(pf).astype(int) % phi.size
    pw = pf - np.floor(pf)
    pi1 = (pi0 + 1) % phi.size
    for k, t in enumerate(terms):
        out[k][inside] = (t[ti, pi0] * (1 - tw) * (1 - pw) + t[ti + 1, pi0] * tw * (1 - pw)
                          + t[ti, pi1] * (1 - tw) * pw + t[ti + 1, pi1] * tw * pw)
    return out


def build_vp_table(h5_path: str, out_table: str, *, telescope: str, freq_hz: float, npix: int = 129) -> str:
    """Write the VP table ``out_table`` from the H5 model; returns its path."""
    configure_casa()
    from casatools import coordsys, image, vpmanager

    model = read_model(h5_path, freq_hz)
    jones, cell = jones_on_grid(model, npix)
    work = tempfile.mkdtemp(prefix=".vp.", dir=os.path.dirname(os.path.abspath(out_table)))
    try:
        # the VP table refers to the complex image by absolute path: build it in place
        img = os.path.abspath(out_table) + ".image"
        shutil.rmtree(img, ignore_errors=True)
        cs = coordsys()
        cs = cs.newcoordsys(direction=True, spectral=True, stokes=["XX", "XY", "YX", "YY"])
        cs.setreferencecode("AZEL", "direction", True)
        cs.setunits(["deg", "deg", "", "Hz"])
        cs.setreferencepixel([npix // 2, npix // 2, 0, 0])
        cs.setreferencevalue([0.0, 0.0, 0, model["freq_hz"]])
        cs.setincrement([-cell, cell, 1, 1e6])  # RA-like x axis increases to the left
        pixels = np.transpose(jones, (1, 2, 0))[:, :, :, None]  # (x, y, stokes, chan)
        ia = image()
        ia.fromarray(outfile=img, pixels=pixels, csys=cs.torecord(), overwrite=True)
        ia.close()
        cs.done()
        vp = vpmanager()
        vp.reset()
        vp.setpbimage(telescope=telescope, compleximage=img, antnames=["*"])
        tmp_table = os.path.join(work, "vp.tab")
        vp.saveastable(tablename=tmp_table)
        vp.reset()
        if os.path.exists(out_table):
            shutil.rmtree(out_table)
        os.rename(tmp_table, out_table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_table
