rule bma:
    input:
        reference=wf.reference_path(config),
        config=wf.slice_path(config, "bma"),
        fits=wf.fit_paths(config),
    output:
        wf.bma_path(config),
    log:
        wf.log_path(config, "bma"),
    benchmark:
        wf.benchmark_path(config, "bma")
    resources:
        runtime=lambda wc, attempt: wf.stage_resources(config, "bma", attempt)["runtime"],
        mem_mb=wf.stage_resources(config, "bma")["mem_mb"],
    shell:
        f"{PYTHON} -m nqsflow.bma {{input.config}} --reference {{input.reference}}"
        f" --fits {{input.fits}} --out {{output}} 2> {{log}}"
