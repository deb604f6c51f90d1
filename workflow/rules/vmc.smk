wildcard_constraints:
    ansatz=wf.wildcard_pattern(ANSATZE),
    point=wf.wildcard_pattern([p.name for p in study_points(config)]),


localrules:
    runspec,


rule runspec:
    # One self-contained run spec per (ansatz, point), written from the study config.
    # The log stays empty; a change to the run: block's code would rerun every VMC job.
    output:
        wf.vmc_path(config, "{ansatz}", "{point}", suffix="yaml"),
    params:
        spec=lambda wc: runspec_for(config, wc.ansatz, wc.point),
    log:
        wf.log_path(config, "vmc/{ansatz}/{point}.runspec"),
    run:
        wf.write_yaml(output[0], params.spec)


rule vmc:
    input:
        wf.vmc_path(config, "{ansatz}", "{point}", suffix="yaml"),
    output:
        wf.vmc_path(config, "{ansatz}", "{point}"),
    log:
        wf.log_path(config, "vmc/{ansatz}/{point}"),
    benchmark:
        wf.benchmark_path(config, "vmc/{ansatz}/{point}")
    threads: config["vmc"].get("tasks", 1)
    resources:
        mpi=MPIEXEC,
        tasks=config["vmc"].get("tasks", 1),
        # wall time and memory from the run's samples and particles (a retry after the
        # wall-time limit resumes from the checkpoint with twice the time)
        runtime=lambda wc, attempt: wf.vmc_resources(config, wc.ansatz, wc.point, attempt)[
            "runtime"
        ],
        mem_mb=lambda wc: wf.vmc_resources(config, wc.ansatz, wc.point)["mem_mb"],
        mem_mb_per_cpu=lambda wc: wf.vmc_resources(config, wc.ansatz, wc.point)[
            "mem_mb_per_cpu"
        ],
    shell:
        # without a launcher (none here, one rank) the run is one plain process
        wf.vmc_command(PYTHON, MPIEXEC)
