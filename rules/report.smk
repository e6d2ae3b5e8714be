rule fit:
    input:
        code=code("fit"),
        table="results/tables/evaluations.csv",
        samples=[f"results/eval/{s}/{p}/samples.jsonl" for s, p in POLICIES],
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
    script:
        "../workflow/scripts/fit.py"


rule figures:
    input:
        code=code("figures"),
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
    script:
        "../workflow/scripts/figures.py"


rule findings:
    input:
        code=code("findings"),
        table="results/tables/evaluations.csv",
        fits="results/tables/fits.csv",
        toy="results/toy_mdp/findings.json",
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
    script:
        "../workflow/scripts/findings.py"


rule provenance:
    input:
        code=code("provenance"),
        fits="results/tables/fits.csv",
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
    script:
        "../workflow/scripts/provenance.py"
