rule report:
    input:
        reference=wf.reference_path(config),
        config=wf.slice_path(config, "report"),
        bma=wf.bma_path(config),
        fits=wf.fit_paths(config),
        theories=wf.theory_paths(config),
        vmc=[path for ansatz in ANSATZE for path in wf.vmc_paths(config, ansatz)],
    output:
        wf.report_paths(config),
    log:
        f"logs/{config['study']}/report.log",
    shell:
        f"{PYTHON} -m nqsflow.report {{input.config}} --reference {{input.reference}}"
        f" --bma {{input.bma}} --fits {{input.fits}} --theories {{input.theories}}"
        f" --vmc {{input.vmc}} --outdir {STUDY}/report 2> {{log}}"
