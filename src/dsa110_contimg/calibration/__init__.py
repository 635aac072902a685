"""Calibration of DSA-110 Measurement Sets.

- :mod:`.flagging`     reset, zeros, autocorrelations, RFI (AOFlagger or CASA tfcrop/rflag)
- :mod:`.calibrators`  calibrator catalog and primary-beam-weighted transit detection
- :mod:`.model`        MODEL_DATA from a component list (CASA ft)
- :mod:`.solve`        delay (K), bandpass (B), complex gain (G) solutions; reference antenna
- :mod:`.validity`     validity windows, choice of tables per group, the caltable registry (no CASA)
- :mod:`.apply`        applycal and the CORRECTED_DATA check
- :mod:`.pipeline`     the rules' steps: flag, solve, apply (products written atomically)
- :mod:`.qa`           caltable reading and QA plots
"""
