rule report:
    input:
        reference=wf.reference_path(config),
        config=wf.slice_path(config, "report"),
        bma=wf.bma_path(config),
        fits=wf.fit_paths(config),
        theories=wf.theory_paths(config),
        vmc=[path for ansatz in ANSATZE for path in wf.vmc_paths(config, ansatz)],
    output:
        # each file also goes into `snakemake --report`, with its caption and category
        [
            report(path, caption=f"../report/{item['caption']}", category=item["category"])
            for path, item in wf.report_items(config)
        ],
    log:
        wf.log_path(config, "report"),
    benchmark:
        wf.benchmark_path(config, "report")
    resources:
        runtime=lambda wc, attempt: wf.stage_resources(config, "report", attempt)["runtime"],
        mem_mb=wf.stage_resources(config, "report")["mem_mb"],
    shell:
        f"{PYTHON} -m nqsflow.report {{input.config}} --reference {{input.reference}}"
        f" --bma {{input.bma}} --fits {{input.fits}} --theories {{input.theories}}"
        f" --vmc {{input.vmc}} --outdir {STUDY}/report 2> {{log}}"
