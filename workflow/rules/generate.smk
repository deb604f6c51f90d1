localrules:
    stage_config,


rule stage_config:
    # One stage's slice of the study config; params make Snakemake rewrite it (and
    # rerun the jobs reading it) only when that slice changes. The log stays empty (a
    # failure here is Snakemake's own error); leave the run: block as it is, since a
    # change to its code reruns every slice and so the whole study.
    output:
        f"{STUDY}/config/{{part}}.yaml",
    params:
        part=lambda wc: wf.stage_slice(config, wc.part),
    log:
        wf.log_path(config, "config/{part}"),
    run:
        wf.write_yaml(output[0], params.part)


rule generate:
    input:
        wf.slice_path(config, "generate"),
    output:
        wf.reference_path(config),
    log:
        wf.log_path(config, "generate"),
    benchmark:
        wf.benchmark_path(config, "generate")
    resources:
        runtime=lambda wc, attempt: wf.stage_resources(config, "generate", attempt)["runtime"],
        mem_mb=wf.stage_resources(config, "generate")["mem_mb"],
    shell:
        f"{PYTHON} -m nqsflow.data {{input}} --out {{output}} 2> {{log}}"
