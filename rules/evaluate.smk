rule evaluate:
    input:
        policy=policy_dir,
        ref="results/models/{size}/sft",
        eval=f"{DATA}/eval.jsonl",
        heldout=f"{PREF}/heldout_preferences.jsonl",
    output:
        samples="results/eval/{size}/{policy}/samples.jsonl",
        metrics="results/eval/{size}/{policy}/metrics.json",
    log:
        "logs/evaluate/{size}/{policy}.log",
    benchmark:
        "logs/benchmarks/evaluate/{size}/{policy}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **resources_of("evaluate"),
    params:
        settings=settings_of("evaluate"),
        code=code_of("evaluate", judge=True),
        info=lambda wc: policy_info(wc.size, wc.policy),
        cache_dir="cache/judge",
    script:
        "../workflow/scripts/evaluate.py"


rule collect:
    input:
        metrics=[f"results/eval/{s}/{p}/metrics.json" for s, p in POLICIES],
        samples=[f"results/eval/{s}/{p}/samples.jsonl" for s, p in POLICIES],
    output:
        report(
            "results/tables/evaluations.csv",
            caption="../workflow/report/evaluations.rst",
            category="Tables",
        ),
    log:
        "logs/collect.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings_of("collect"),
        code=code_of("collect"),
        policies=POLICIES,
    script:
        "../workflow/scripts/collect.py"
