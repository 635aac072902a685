"""Forced photometry, ensemble flux normalisation and variability / ESE search.

- :mod:`.normalize`    per-epoch ensemble correction from stable reference sources
- :mod:`.variability`  per-source light-curve metrics (chi2_nu, eta, V, Vs/m, sigma_dev) and ESE flags
- :mod:`.plots`        light curves, correction factors and the eta-V plane (PNG)
"""
