# Voltage-pattern table from the H5 beam model, and imaging of calibrated groups.


rule simulate_beam:
    """The simulator's beam (Airy, 4.65 m dish) as an H5 beam model (demo only)."""
    output:
        h5=f"{SIM_DIR}/beam.h5",
    log:
        f"{OUT}/logs/simulate/beam.log",
    benchmark:
        f"{OUT}/benchmarks/simulate/beam.tsv"
    priority: 10  # shared input of every image: made first, so images overlap the other groups' stages
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/simulate_beam.py"


rule vptable:
    """CASA VP table (and its complex AZEL image) from the H5 beam model."""
    input:
        h5=beam_h5(),
    output:
        vp=directory(f"{OUT}/vp/dsa110.vp"),
        image=directory(f"{OUT}/vp/dsa110.vp.image"),
    params:
        telescope=SETTINGS.telescope.name,
        freq_hz=SETTINGS.imaging.vp_freq_hz,
    log:
        f"{OUT}/logs/vptable.log",
    benchmark:
        f"{OUT}/benchmarks/vptable.tsv"
    priority: 10  # shared input of every image: made first, so images overlap the other groups' stages
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/build_vptable.py"


rule image:
    """Apply the gains chosen for one group (the transit's, its field gains or a graded fallback)
    and image it (imaging.backend: wsclean or tclean): pbcor FITS, QA JSON and thumbnail."""
    input:
        unpack(image_inputs),
        vp=f"{OUT}/vp/dsa110.vp",
        sources=static_beam_catalog(),
    params:
        beam=beam_h5(),  # the VP table is made from it: a new beam remakes the VP table, then the images
        overlay=sky_catalog(),  # demo thumbnails: the simulator's sky (written before any group)
        field=field_dir,
        validity=[config["calibration"]["bp_validity_h"], config["calibration"]["gain_validity_h"]],
        # a change re-images: imaging, telescope and the gain choice's settings
        settings=config_hash({"imaging": config["imaging"], "telescope": config["telescope"],
                              "calibration": {k: config["calibration"][k] for k in
                                              ("gain_fallback_max_age_h", "fallback_lookback_groups", "age_grades_h")}}),
    output:
        sidecar=P("calibrated"),
        # <group>.image.fits, .image.pbcor.fits, .pb.fits, .residual.fits, .qa.json, .png: one
        # directory per group (one declared output instead of six: a month plans faster)
        images=report(directory(P("images")), patterns=["{name}.png"], caption="../report/image.rst", category="Images"),
    log:
        f"{OUT}/logs/image/{{date}}/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/image/{{date}}/{{group}}.tsv"
    priority: 5  # see rule convert
    threads: IMAGE_THREADS  # the backend's threads (1 for a small group)
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/image_group.py"


rule images:
    """Target: every calibratable group of the range calibrated and imaged (pbcor FITS), and the calibration ledger."""
    input:
        image_targets,
