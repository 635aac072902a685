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
    """One complete group of 16 subbands -> a flagged Measurement Set named by the group id;
    a group outside every transit's gain window also gets its gains solved against the
    catalog sky (before the MS appears: a flagged MS appears at once or not at all)."""
    input:
        unpack(convert_inputs),
    output:
        ms=ms_output(P("ms")),  # temporary with keep_ms: false
        summary=P("ms_summary"),
        field=directory(P("field_tables")),  # field gains and their record (solve.json), or why not solved
    params:
        files=group_files,
        not_solved=field_not_solved,
        catalog=MASTER_DB,
        beam=beam_h5(),
        # a change reruns: conversion, flagging and the field-gain solve's settings
        settings=config_hash({"conversion": config["conversion"], "telescope": config["telescope"],
                              "calibration": {k: config["calibration"][k] for k in
                                              ("flagging", "aoflagger_strategy", "min_unflagged", "field_gains")}}),
    log:
        f"{OUT}/logs/convert/{{date}}/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/convert/{{date}}/{{group}}.tsv"
    priority: 1  # downstream rules first (1-6): each epoch flows through to its image while others are simulated
    threads: CONVERT_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/convert_group.py"


rule ms:
    """Target: a Measurement Set for every complete group in range, and the ledger."""
    input:
        ms_targets,
