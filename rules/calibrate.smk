# Calibrator solves (K, B, G) and the calibration ledger.  Flagging and field-gain solves run in
# rule convert, applycal in rule image (two jobs per group: a month plans in seconds).


rule solve:
    """Calibrator model, dead-antenna check, refant, K/B/G tables and their QA for one transit."""
    input:
        ms=P("ms"),
        summary=P("ms_summary"),
        # the model's other catalog sources under the beam (calibration.transit_catalog_model);
        # the field groups' gain solves need them too and depend on this transit's summary alone
        catalog=MASTER_DB,
        beam=beam_h5(),
    output:
        K=directory(P("caltables") + ".K"),
        B=directory(P("caltables") + ".B"),
        G=directory(P("caltables") + ".G"),
        summary=P("transit"),
        delays=report(P("qa_cal") + "_delays.png", caption="../report/delays.rst", category="Calibration"),
        bandpass=report(P("qa_cal") + "_bandpass.png", caption="../report/bandpass.rst", category="Calibration"),
        gains=report(P("qa_cal") + "_gains.png", caption="../report/gains.rst", category="Calibration"),
    params:
        calibrator=calibrator_of,
        registry=f"{OUT}/caltables/registry.sqlite3",
        settings=config_hash(config["calibration"]),  # a change of any calibration setting reruns the solve
    log:
        f"{OUT}/logs/solve/{{date}}/{{group}}.log",
    benchmark:
        f"{OUT}/benchmarks/solve/{{date}}/{{group}}.tsv"
    priority: 3  # see rule convert
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/dsa110.yaml"
    script:
        "../scripts/solve_calibrator.py"


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
    """Target: K, B, G tables for every calibrator transit in range, and every field group's gains."""
    input:
        caltable_targets,
