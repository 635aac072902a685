"""A simulated run's products against the simulator's truth (importable, tested checks).

- :mod:`.calibration`  delay and bandpass residuals per calibrator transit, RFI flagging
- :mod:`.imaging`      pbcor peaks of isolated injected sources, image noise vs thermal
- :mod:`.photometry`   correction factors vs the injected drift, chi2_nu, ESE detection

Each module has a ``check_*`` function returning plain data (dicts, DataFrames) and a
``format_*`` function returning the printed lines; ``python -m dsa110_contimg.tools.truth``
prints them.
"""
