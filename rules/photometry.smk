# Master catalog, forced photometry per image, ensemble normalisation, variability, ESE candidates.


rule master_catalog:
    """NVSS master list crossmatched with VLASS (spectral index) and FIRST (sizes) into SQLite."""
    input:
        unpack(lambda wc: survey_tables()),
    params:
        settings=config_hash({"catalog": config["catalog"]}),
    output:
        db=MASTER_DB,
        summary=f"{OUT}/catalog/master_sources.json",
    log:
        f"{OUT}/logs/catalog/master.log",
    benchmark:
        f"{OUT}/benchmarks/catalog/master.tsv"
    priority: 10  # shared input of every image: made first, so images overlap the other groups' stages
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/build_catalog.py"


rule forced_photometry:
    """Beam-matched-filter fluxes at every catalog position inside the usable primary beam, for
    every image of one UTC date (one CSV per date)."""
    input:
        images=images_of_date,
        db=MASTER_DB,
    params:
        settings=config_hash({"photometry": config["photometry"], "pblimit": config["imaging"]["pblimit"]}),
    output:
        csv=f"{OUT}/photometry/{{date}}.csv",
        sidecar=f"{OUT}/photometry/{{date}}.json",
    log:
        f"{OUT}/logs/photometry/{{date}}.log",
    benchmark:
        f"{OUT}/benchmarks/photometry/{{date}}.tsv"
    priority: 6  # see rule convert
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/forced_photometry.py"


rule lightcurves:
    """Normalise every light curve against the reference ensemble (per image), combine each
    transit's measurements, then variability and ESE candidates on the per-transit series."""
    input:
        csvs=photometry_csvs,
        db=MASTER_DB,
    params:
        settings=config_hash({"photometry": config["photometry"]}),
        missing=missing_epochs,
        imaged=lambda wc: calibratable_groups(),
    output:
        lightcurves=f"{OUT}/photometry/lightcurves.csv",
        transits=f"{OUT}/photometry/transits.csv",
        corrections=f"{OUT}/photometry/corrections.csv",
        variability=f"{OUT}/photometry/variability.csv",
        candidates=report(f"{OUT}/photometry/candidates.csv", caption="../report/candidates.rst", category="Photometry"),
        dropped=f"{OUT}/photometry/dropped_references.csv",
        summary=f"{OUT}/photometry/summary.json",
        plot_candidates=report(f"{OUT}/photometry/plots/candidates_lightcurves.png", caption="../report/candidates_lc.rst", category="Photometry"),
        plot_references=report(f"{OUT}/photometry/plots/references_lightcurves.png", caption="../report/references_lc.rst", category="Photometry"),
        plot_corrections=report(f"{OUT}/photometry/plots/corrections.png", caption="../report/corrections.rst", category="Photometry"),
        plot_eta_v=report(f"{OUT}/photometry/plots/eta_v.png", caption="../report/eta_v.rst", category="Photometry"),
    log:
        f"{OUT}/logs/photometry/lightcurves.log",
    benchmark:
        f"{OUT}/benchmarks/photometry/lightcurves.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/lightcurves.py"


rule photometry:
    """Target: per-image photometry CSVs, light curves, corrections and ESE candidates of the range."""
    input:
        rules.lightcurves.output,
