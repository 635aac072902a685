"""Master source catalog: NVSS (required) cross-matched with VLASS and FIRST (optional).

- :mod:`.readers`       survey tables (CSV, TSV, FITS) -> standard columns, fluxes in Jy
- :mod:`.crossmatch`    positional matching, spectral index, resolved/confusion flags
- :mod:`.build_master`  the SQLite master catalog and its reference views; CLI
"""
