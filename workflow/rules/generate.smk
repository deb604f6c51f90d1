localrules:
    stage_config,


rule stage_config:
    # One stage's slice of the study config; params make Snakemake rewrite it (and
    # rerun the jobs reading it) only when that slice changes.
    output:
        f"{STUDY}/config/{{part}}.yaml",
    params:
        part=lambda wc: wf.stage_slice(config, wc.part),
    run:
        wf.write_yaml(output[0], params.part)


rule generate:
    input:
        wf.slice_path(config, "generate"),
    output:
        wf.reference_path(config),
    log:
        f"logs/{config['study']}/generate.log",
    shell:
        f"{PYTHON} -m nqsflow.data {{input}} --out {{output}} 2> {{log}}"
