rule fit:
    input:
        reference=wf.reference_path(config),
        config=f"{STUDY}/config/fit/{{method}}.yaml",
        theory=wf.theory_path(config, "{theory}"),
    output:
        wf.fit_path(config, "{theory}", "{method}"),
    log:
        f"logs/{config['study']}/fit/{{theory}}/{{method}}.log",
    shell:
        f"{PYTHON} -m nqsflow.fit {{input.config}} --theory {{wildcards.theory}}"
        f" --method {{wildcards.method}} --reference {{input.reference}}"
        f" --theory-file {{input.theory}} --out {{output}} 2> {{log}}"
