rule evaluate:
    input:
        policy=policy_dir,
        ref="results/models/{size}/sft",
        eval=f"{DATA}/eval.jsonl",
        heldout=f"{DATA}/heldout_preferences.jsonl",
    output:
        samples="results/eval/{size}/{policy}/samples.jsonl",
        metrics="results/eval/{size}/{policy}/metrics.json",
    params:
        info=lambda wc: policy_info(wc.size, wc.policy),
        cache_dir="cache/judge",
    log:
        "logs/evaluate/{size}/{policy}.log",
    benchmark:
        "logs/benchmarks/evaluate/{size}/{policy}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    script:
        "../workflow/scripts/evaluate.py"


rule collect:
    input:
        metrics=[f"results/eval/{s}/{p}/metrics.json" for s, p in POLICIES],
        samples=[f"results/eval/{s}/{p}/samples.jsonl" for s, p in POLICIES],
    output:
        "results/tables/evaluations.csv",
    log:
        "logs/collect.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow/scripts/collect.py"
