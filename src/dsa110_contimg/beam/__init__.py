"""Primary-beam model: H5 E-field patterns -> CASA voltage-pattern (VP) table.

- :mod:`.h5model`   read/write the H5 beam model (X/Y ephi, etheta on theta/phi, per frequency)
- :mod:`.vptable`   build the complex AZEL image and register it with CASA's vpmanager
- :mod:`.cli`       ``python -m dsa110_contimg.beam.cli --h5 ... --out ... --telescope OVRO_DSA --freq-hz 1.4e9``
"""
