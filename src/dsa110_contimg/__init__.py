"""dsa110_contimg: DSA-110 continuum imaging, from UVH5 subbands to light curves.

The package holds the science; the Snakemake workflow in the repository root
only wires it together.  Modules:

- ``geometry``      station positions, telescope location, UVW geometry
- ``uvh5_io``       reading and validating DSA-110 UVH5 subband files
- ``grouping``      subband discovery, grouping by timestamp, the group ledger
- ``simulate``      the DSA-110 data simulator (known truth)
- ``conversion``    UVH5 group -> CASA Measurement Set
- ``casa_env``      offline CASA configuration inside the project
- ``provenance``    software versions and config hashes for products
- ``atomic``        write-to-temporary-then-rename helpers
"""

__version__ = "0.1.0"
