rule toy_mdp:
    output:
        table="results/toy_mdp/toy_mdp.csv",
        png=report(
            "results/figures/toy_mdp.png",
            caption="../workflow/report/toy_mdp.rst",
            category="Figures",
        ),
        pdf="results/figures/toy_mdp.pdf",
        findings="results/toy_mdp/findings.json",
    log:
        "logs/toy_mdp.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings_of("toy_mdp"),
        code=code_of("toy_mdp"),
    script:
        "../workflow/scripts/toy_mdp.py"
