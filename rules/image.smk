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
    """Image one calibrated group (imaging.backend: tclean or wsclean); pbcor FITS, QA JSON and thumbnail."""
    input:
        ms=f"{OUT}/ms/{{group}}.ms",
        calibrated=f"{OUT}/calibrated/{{group}}.json",
        vp=f"{OUT}/vp/dsa110.vp",
        beam=beam_h5(),
        catalog=sky_catalog(),
        sources=static_beam_catalog(),
    params:
        settings=config_hash({"imaging": config["imaging"], "telescope": config["telescope"]}),  # a change re-images
    output:
        image=f"{OUT}/images/{{group}}.image.fits",
        pbcor=f"{OUT}/images/{{group}}.image.pbcor.fits",
        pb=f"{OUT}/images/{{group}}.pb.fits",
        qa=f"{OUT}/images/{{group}}.qa.json",
        thumb=report(f"{OUT}/images/{{group}}.png", caption="../report/image.rst", category="Images"),
    log:
        f"{OUT}/logs/image/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/image/{{group}}.tsv"
    priority: 5  # see rule convert
    threads: image_threads  # the backend's threads (1 for a small group)
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/image_group.py"


rule images:
    """Target: primary-beam-corrected images of every calibrated science group in range."""
    input:
        image_targets,
