"""Imaging: one group into FITS products with provenance, the same through either imager.

- :mod:`.pipeline`        one group as named steps (the rule's entry point :func:`.pipeline.image_group`)
- :mod:`.params`          data column, image grid, w-planes; :class:`.params.ImagingError`
- :mod:`.static_beam`     the static-beam plan: which catalog sources get which beam (pure)
- :mod:`.beam_equalize`   writes the plan into a scratch copy of the MS
- :mod:`.selfcal`         phase self-calibration against the static catalog model
- :mod:`.mask`            the catalog clean mask (CRTF for tclean, FITS for WSClean)
- :mod:`.backends`        the backend interface and registry ``BACKENDS``
- :mod:`.tclean_backend`  CASA tclean (VP-table beam)
- :mod:`.wsclean_backend` WSClean (H5-model beam)
- :mod:`.primary_beam`    drift-averaged primary beam and pb correction, shared by both backends
- :mod:`.products`        product names and provenance cards
- :mod:`.sources`         master-catalog sources as point sources
- :mod:`.qa`              image statistics and a thumbnail
"""
