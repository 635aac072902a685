# Flagging, calibrator solves (K, B, G), and applying calibration by validity window.


rule flag:
    """Reset flags, flag zeros and autocorrelations, then RFI (AOFlagger or CASA), in place."""
    input:
        ms=f"{OUT}/ms/{{group}}.ms",
    output:
        stats=f"{OUT}/flags/{{group}}.json",
    params:
        settings=config_hash({k: config["calibration"][k] for k in ("flagging", "aoflagger_strategy")}),  # a change reflags
    log:
        f"{OUT}/logs/flag/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/flag/{{group}}.tsv"
    priority: 2  # see rule convert
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/flag_group.py"


rule solve:
    """Calibrator model, dead-antenna check, refant, K/B/G tables and their QA for one transit."""
    input:
        ms=f"{OUT}/ms/{{group}}.ms",
        flags=f"{OUT}/flags/{{group}}.json",
    output:
        K=directory(f"{OUT}/caltables/{{group}}.K"),
        B=directory(f"{OUT}/caltables/{{group}}.B"),
        G=directory(f"{OUT}/caltables/{{group}}.G"),
        summary=f"{OUT}/caltables/{{group}}.json",
        delays=report(f"{OUT}/qa/cal/{{group}}_delays.png", caption="../report/delays.rst", category="Calibration"),
        bandpass=report(f"{OUT}/qa/cal/{{group}}_bandpass.png", caption="../report/bandpass.rst", category="Calibration"),
        gains=report(f"{OUT}/qa/cal/{{group}}_gains.png", caption="../report/gains.rst", category="Calibration"),
    params:
        calibrator=calibrator_of,
        registry=f"{OUT}/caltables/registry.sqlite3",
        settings=config_hash(config["calibration"]),  # a change of any calibration setting reruns the solve
    log:
        f"{OUT}/logs/solve/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/solve/{{group}}.tsv"
    priority: 3  # see rule convert
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/solve_calibrator.py"


rule solve_field:
    """Gains of a group outside every transit's gain window, solved on the group against the
    master catalog under the primary beam (K, B and the transit's G applied); a poor solve
    is recorded, not failed (the apply step falls back)."""
    input:
        unpack(solve_field_inputs),
    output:
        summary=f"{OUT}/caltables/field/{{group}}.json",
        tables=directory(f"{OUT}/caltables/field/{{group}}"),
    params:
        settings=config_hash(config["calibration"]),
    log:
        f"{OUT}/logs/solve_field/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/solve_field/{{group}}.tsv"
    priority: 4  # see rule convert
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/solve_field.py"


rule apply:
    """applycal of the tables whose windows cover the group's mid-time, or of the group's field
    gains (or their graded fallback); checks CORRECTED_DATA."""
    input:
        unpack(apply_inputs),
    output:
        sidecar=f"{OUT}/calibrated/{{group}}.json",
    params:
        validity=[config["calibration"]["bp_validity_h"], config["calibration"]["gain_validity_h"]],
    log:
        f"{OUT}/logs/apply/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/apply/{{group}}.tsv"
    priority: 4  # see rule convert
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/apply_calibration.py"


rule calibration_ledger:
    """Every complete group: how it was calibrated (path, tables, ages, grades) or why not."""
    input:
        sidecars=calibrated_sidecars,
    output:
        report(f"{OUT}/ledger/calibration.csv", caption="../report/calibration_ledger.rst", category="Calibration"),
    params:
        skipped=uncalibratable_digest,
    log:
        f"{OUT}/logs/calibration_ledger.log",
    benchmark:
        f"{OUT}/benchmarks/calibration_ledger.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/write_calibration_ledger.py"


rule caltables:
    """Target: K, B, G tables for every calibrator transit in range."""
    input:
        caltable_targets,


rule calibrated:
    """Target: every group in range calibrated (CORRECTED_DATA), and the calibration ledger."""
    input:
        calibrated_targets,
