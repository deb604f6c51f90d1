localrules:
    study_config,


rule study_config:
    # The resolved study config as a file; params make Snakemake rerun it on change.
    output:
        f"{STUDY}/config.yaml",
    params:
        study=config,
    run:
        wf.write_yaml(output[0], params.study)


rule generate:
    input:
        f"{STUDY}/config.yaml",
    output:
        wf.reference_path(config),
    log:
        f"logs/{config['study']}/generate.log",
    shell:
        f"{PYTHON} -m nqsflow.data {{input}} --out {{output}} 2> {{log}}"
