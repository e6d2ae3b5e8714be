rule sft:
    input:
        data=f"{DATA}/sft.jsonl",
        tokenizer=tokenizer_input,
    output:
        model=directory("results/models/{size}/sft"),
        history="results/models/{size}/sft_history.csv",
    params:
        tokenizer=lambda wc: tokenizer_source(wc.size),
    log:
        "logs/sft/{size}.log",
    benchmark:
        "logs/benchmarks/sft/{size}.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=120,
    script:
        "../workflow/scripts/sft.py"


if SYNTHETIC:

    rule sft_quality:
        input:
            model="results/models/{size}/sft",
            eval=f"{DATA}/eval.jsonl",
        output:
            "results/models/{size}/sft_quality.json",
        log:
            "logs/sft_quality/{size}.log",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../workflow/scripts/sft_quality.py"
