rule fit:
    input:
        table="results/tables/evaluations.csv",
        samples=policy_files("samples.jsonl"),
    output:
        report(
            "results/tables/fits.csv",
            caption="../workflow/report/fits.rst",
            category="Tables",
        ),
    log:
        "logs/fit.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings_of("fit"),
        code=code_of("fit"),
    script:
        "../workflow/scripts/fit.py"


rule pooled:
    input:
        table="results/tables/evaluations.csv",
        samples=policy_files("samples.jsonl"),
    output:
        report(
            "results/tables/pooled.csv",
            caption="../workflow/report/pooled.rst",
            category="Tables",
        ),
    log:
        "logs/pooled.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings_of("pooled"),
        code=code_of("pooled"),
    script:
        "../workflow/scripts/pooled.py"


rule metrics:
    input:
        pooled="results/tables/pooled.csv",
        fits="results/tables/fits.csv",
    output:
        "results/metrics.json",
    log:
        "logs/metrics.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings_of("metrics"),
        code=code_of("metrics"),
    script:
        "../workflow/scripts/metrics.py"


rule figures:
    input:
        table="results/tables/evaluations.csv",
        fits="results/tables/fits.csv",
    output:
        **{
            f"{name}_png": report(
                f"results/figures/{name}.png",
                caption=figure_caption(name),
                category="Figures",
            )
            for name in FIGURES
        },
        **{f"{name}_pdf": f"results/figures/{name}.pdf" for name in FIGURES},
    log:
        "logs/figures.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings_of("figures"),
        code=code_of("figures"),
    script:
        "../workflow/scripts/figures.py"


rule findings:
    input:
        table="results/tables/evaluations.csv",
        fits="results/tables/fits.csv",
        toy="results/toy_mdp/findings.json",
        samples=policy_files("samples.jsonl"),
        reward_models=("results/tables/reward_models.csv" if BEST_OF_N else []),
    output:
        md="results/findings.md",
        html=report(
            "results/findings.html",
            caption="../workflow/report/findings.rst",
            category="Findings",
        ),
    log:
        "logs/findings.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings_of("findings"),
        code=code_of("findings"),
    script:
        "../workflow/scripts/findings.py"


rule provenance:
    input:
        fits="results/tables/fits.csv",
        pooled="results/tables/pooled.csv",
        metrics="results/metrics.json",
        findings="results/findings.md",
        toy="results/toy_mdp/findings.json",
        figures=[f"results/figures/{n}.png" for n in FIGURES],
    output:
        report(
            "results/tables/provenance.csv",
            caption="../workflow/report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings_of("provenance"),
        code=code_of("provenance"),
    script:
        "../workflow/scripts/provenance.py"
