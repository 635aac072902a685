# The demo observation: simulated DSA-110 UVH5 files with known truth.
# Only active when input_dir is empty.


rule simulate_truth:
    """Draw the sky, corruptions and RFI of the simulated run; write truth.json, sky.csv,
    calibrators.csv and NVSS/VLASS/FIRST-like survey tables of the sky (with catalog errors)."""
    params:
        settings=config_hash({"simulation": config["simulation"], "telescope": config["telescope"]}),
    output:
        truth=f"{SIM_DIR}/truth.json",
        catalog=f"{SIM_DIR}/sky.csv",
        calibrators=f"{SIM_DIR}/calibrators.csv",
        nvss=f"{SIM_DIR}/surveys/nvss.csv",
        vlass=f"{SIM_DIR}/surveys/vlass.csv",
        first=f"{SIM_DIR}/surveys/first.tsv",
    log:
        f"{OUT}/logs/simulate/truth.log",
    benchmark:
        f"{OUT}/benchmarks/simulate/truth.tsv"
    priority: 10  # shared input of every image: made first, so images overlap the other groups' stages
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/simulate_truth.py"


rule simulate_day:
    """Write the UVH5 subband files of one UTC date's simulated groups, one directory per group
    (one job per date: the groups share the job's start-up, ~3 s of imports)."""
    input:
        truth=f"{SIM_DIR}/truth.json",
    output:
        raw=directory(f"{RAW_DIR}/{{date}}"),
    wildcard_constraints:
        date=r"\d{4}-\d{2}-\d{2}",
    log:
        f"{OUT}/logs/simulate/{{date}}.log",
    benchmark:
        f"{OUT}/benchmarks/simulate/{{date}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/simulate_day.py"
