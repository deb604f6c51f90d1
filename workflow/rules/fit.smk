rule fit:
    input:
        reference=wf.reference_path(config),
        config=f"{STUDY}/config.yaml",
        vmc=lambda wc: wf.vmc_paths(config, wc.ansatz),
    output:
        wf.fit_path(config, "{ansatz}", "{method}"),
    log:
        f"logs/{config['study']}/fit/{{ansatz}}/{{method}}.log",
    shell:
        f"{PYTHON} -m nqsflow.fit {{input.config}} --ansatz {{wildcards.ansatz}}"
        f" --method {{wildcards.method}} --reference {{input.reference}}"
        f" --vmc {{input.vmc}} --out {{output}} 2> {{log}}"
