"""Imaging: tclean with w-projection and primary-beam correction from the VP table, FITS export, QA.

- :mod:`.tclean_image`  parameters, checks, tclean, FITS export with provenance
- :mod:`.qa`            image statistics and a thumbnail
"""
