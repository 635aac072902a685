"""Calibration of DSA-110 Measurement Sets.

- :mod:`.flagging`     reset, zeros, autocorrelations, RFI (AOFlagger or CASA tfcrop/rflag)
- :mod:`.calibrators`  calibrator catalog and primary-beam-weighted transit detection
- :mod:`.model`        MODEL_DATA from a component list (CASA ft)
- :mod:`.solve`        delay (K), bandpass (B), complex gain (G) solutions; reference antenna
- :mod:`.apply`        validity windows, the caltable registry and applycal
"""
