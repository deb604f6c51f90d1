wildcard_constraints:
    ansatz=wf.wildcard_pattern(ANSATZE),
    point=wf.wildcard_pattern([p.name for p in study_points(config)]),


localrules:
    runspec,


rule runspec:
    # One self-contained run spec per (ansatz, point), written from the study config.
    output:
        wf.vmc_path(config, "{ansatz}", "{point}", suffix="yaml"),
    params:
        spec=lambda wc: runspec_for(config, wc.ansatz, wc.point),
    run:
        wf.write_yaml(output[0], params.spec)


rule vmc:
    input:
        wf.vmc_path(config, "{ansatz}", "{point}", suffix="yaml"),
    output:
        wf.vmc_path(config, "{ansatz}", "{point}"),
    log:
        f"logs/{config['study']}/vmc/{{ansatz}}/{{point}}.log",
    threads: config["vmc"].get("tasks", 1)
    resources:
        mpi=MPIEXEC,
        tasks=config["vmc"].get("tasks", 1),
    shell:
        f"{{resources.mpi}} -n {{resources.tasks}} {PYTHON} -m nqsflow.vmc {{input}}"
        " --out {output} 2> {log}"
