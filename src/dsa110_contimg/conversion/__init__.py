"""UVH5 group -> CASA Measurement Set.

- :mod:`.phasing`    meridian phase centre, UVW from station positions, phase factors
- :mod:`.ms_table`   MS skeleton (tiled main table + subtables), column helpers
- :mod:`.parallel`   per-subband read/phase in worker processes, one MS assembled
- :mod:`.monolithic` pyuvdata read + phase + write_ms (the reference path)
- :mod:`.convert`    writer choice, validation, staging and the atomic move
- :mod:`.cli`        ``python -m dsa110_contimg.conversion.cli``
"""
