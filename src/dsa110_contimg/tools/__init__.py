"""Developer tools, run with ``python -m`` (not part of the workflow):

- ``python -m dsa110_contimg.tools.truth [results]``: a simulated run's calibration,
  images and photometry against the simulator's truth (:mod:`dsa110_contimg.validation`)
- ``python -m dsa110_contimg.tools.bench_conversion``: full-size group conversion vs
  pyuvdata's monolithic path vs a plain copy
- ``python -m dsa110_contimg.tools.bench_calibration``: the calibration steps and imaging
  on that (calibrator) group
- ``python -m dsa110_contimg.tools.ese_seeds``: the demo with several simulator seeds,
  ESE detections and false positives
"""
