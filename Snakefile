# dsa110-contimg: DSA-110 UVH5 subbands -> Measurement Sets -> ... (see README.md)
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/config.schema.yaml")


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/convert.smk"
include: "rules/calibrate.smk"
include: "rules/image.smk"
include: "rules/photometry.smk"


rule all:
    """Everything for the selected range: MS, calibration, images, ledgers, photometry and ESE candidates."""
    default_target: True
    input:
        ms_targets,
        image_targets,
        photometry_targets,
