rule theory:
    # VMC runs gathered per ansatz, or a model's predictions imported or fitted
    input:
        reference=wf.reference_path(config),
        config=f"{STUDY}/config/theory/{{theory}}.yaml",
        vmc=lambda wc: wf.vmc_paths(config, wc.theory),
    output:
        wf.theory_path(config, "{theory}"),
    log:
        wf.log_path(config, "theory/{theory}"),
    benchmark:
        wf.benchmark_path(config, "theory/{theory}")
    resources:
        runtime=lambda wc, attempt: wf.stage_resources(config, "theory", attempt)["runtime"],
        mem_mb=wf.stage_resources(config, "theory")["mem_mb"],
    shell:
        f"{PYTHON} -m nqsflow.theory {{input.config}} --name {{wildcards.theory}}"
        f" --reference {{input.reference}} --vmc {{input.vmc}} --out {{output}} 2> {{log}}"
