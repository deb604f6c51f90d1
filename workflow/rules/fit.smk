rule fit:
    input:
        reference=wf.reference_path(config),
        config=f"{STUDY}/config/fit/{{method}}.yaml",
        theory=wf.theory_path(config, "{theory}"),
    output:
        wf.fit_path(config, "{theory}", "{method}"),
    log:
        wf.log_path(config, "fit/{theory}/{method}"),
    benchmark:
        wf.benchmark_path(config, "fit/{theory}/{method}")
    resources:
        # a GP's search grows as its train points cubed
        runtime=lambda wc, attempt: wf.fit_resources(config, wc.method, attempt)["runtime"],
        mem_mb=lambda wc: wf.fit_resources(config, wc.method)["mem_mb"],
    shell:
        f"{PYTHON} -m nqsflow.fit {{input.config}} --theory {{wildcards.theory}}"
        f" --method {{wildcards.method}} --reference {{input.reference}}"
        f" --theory-file {{input.theory}} --out {{output}} 2> {{log}}"
