"""DSA-110 data simulator with known truth.

- :mod:`.scenario`      the observing plan (groups, file names) and the sky/truth model
- :mod:`.corruptions`   delays, bandpasses, gains, flux-scale drift, dead antenna, RFI
- :mod:`.visibilities`  visibilities of point sources through an Airy beam, plus noise
- :mod:`.uvh5_writer`   real-format DSA-110 UVH5 subband files
- :mod:`.cli`           ``python -m dsa110_contimg.simulate.cli``

Conventions: UVH5 data follow pyuvdata (baseline = x[ant2] - x[ant1],
V = sum S exp(+2 pi i b.(s - s0) / lambda)).  Antenna gains are stated in CASA's
convention, ``V_ms[i,j] = g_i conj(g_j) V_true``; since the MS holds the complex
conjugate of the UVH5 data, the UVH5 files carry ``conj(g_i) g_j V``.
"""
