rule bma:
    input:
        reference=wf.reference_path(config),
        config=wf.slice_path(config, "bma"),
        fits=wf.fit_paths(config),
    output:
        wf.bma_path(config),
    log:
        f"logs/{config['study']}/bma.log",
    shell:
        f"{PYTHON} -m nqsflow.bma {{input.config}} --reference {{input.reference}}"
        f" --fits {{input.fits}} --out {{output}} 2> {{log}}"
