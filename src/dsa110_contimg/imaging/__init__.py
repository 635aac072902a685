"""Imaging: tclean with w-projection and primary-beam correction from the VP table, FITS export, QA.

- :mod:`.pipeline`       one group end to end (the rule's entry point)
- :mod:`.beam_equalize`  bright catalog sources get the drift-averaged beam in a scratch MS
- :mod:`.selfcal`        phase self-calibration against that catalog model
- :mod:`.tclean_image`   parameters, checks, tclean, FITS export with provenance
- :mod:`.wsclean_image`  the optional WSClean backend
- :mod:`.qa`             image statistics and a thumbnail
"""
