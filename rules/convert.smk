# Grouping ledger and UVH5 group -> Measurement Set conversion.


rule ledger:
    """Groups in range that are incomplete or unreadable, with the reason they are skipped."""
    input:
        ledger_inputs,
    output:
        report(
            f"{OUT}/ledger/groups.csv",
            caption="../report/ledger.rst",
            category="Ingest",
        ),
    params:
        skipped=skipped_groups_digest(),
    log:
        f"{OUT}/logs/ledger.log",
    benchmark:
        f"{OUT}/benchmarks/ledger.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/write_ledger.py"


rule convert:
    """One complete group of 16 subbands -> one Measurement Set named by the group id."""
    input:
        unpack(convert_inputs),
    output:
        ms=ms_output(f"{OUT}/ms/{{group}}.ms"),  # temporary with keep_ms: false
        summary=f"{OUT}/ms/{{group}}.json",
    params:
        files=group_files,
        settings=config_hash({"conversion": config["conversion"], "telescope": config["telescope"]}),  # a change reruns
    log:
        f"{OUT}/logs/convert/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/convert/{{group}}.tsv"
    priority: 1  # downstream rules first (1-6): each epoch flows through to its image while others are simulated
    threads: convert_threads
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/convert_group.py"


rule ms:
    """Target: a Measurement Set for every complete group in range, and the ledger."""
    input:
        ms_targets,
