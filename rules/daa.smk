rule ref_logps:
    input:
        model="results/models/{size}/sft",
        pairs=f"{DATA}/preferences.jsonl",
    output:
        "results/models/{size}/ref_logps.jsonl",
    log:
        "logs/ref_logps/{size}.log",
    benchmark:
        "logs/benchmarks/ref_logps/{size}.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../workflow/scripts/ref_logps.py"


rule daa:
    input:
        model="results/models/{size}/sft",
        pairs=f"{DATA}/preferences.jsonl",
        ref_logps="results/models/{size}/ref_logps.jsonl",
        gate=quality_gate,
    output:
        checkpoints=[
            directory(f"results/daa/{{size}}/{{objective}}/beta-{{beta}}/{c}") for c in CKPTS
        ],
        history="results/daa/{size}/{objective}/beta-{beta}/history.csv",
    params:
        state_dir=lambda wc: f"results/.state/daa/{wc.size}/{wc.objective}/beta-{wc.beta}",
    log:
        "logs/daa/{size}/{objective}/beta-{beta}.log",
    benchmark:
        "logs/benchmarks/daa/{size}/{objective}/beta-{beta}.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=120,
    script:
        "../workflow/scripts/daa.py"
