rule ref_logps:
    input:
        model="results/models/{rep}{size}/sft",
        pairs=f"{PAIRS}preferences.jsonl",
    output:
        "results/ref_logps/{rep}{size}.jsonl",
    log:
        "logs/ref_logps/{rep}{size}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("ref_logps"),
    params:
        settings=settings_of("ref_logps"),
        code=code_of("ref_logps"),
    script:
        "../workflow/scripts/ref_logps.py"


rule daa:
    input:
        model="results/models/{rep}{size}/sft",
        pairs=f"{PAIRS}preferences.jsonl",
        ref_logps="results/ref_logps/{rep}{size}.jsonl",
        gate=quality_gate,
    output:
        checkpoints=[
            directory(f"results/daa/{{rep}}{{size}}/{{objective}}/beta-{{beta}}/{c}")
            for c in CKPTS
        ],
        history="results/daa/{rep}{size}/{objective}/beta-{beta}/history.csv",
    log:
        "logs/daa/{rep}{size}/{objective}/beta-{beta}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("daa"),
    params:
        settings=settings_of("daa"),
        code=code_of("daa", loss=True),
        state_dir=lambda wc: f"results/.state/daa/{wc.rep}{wc.size}/{wc.objective}/beta-{wc.beta}",
    script:
        "../workflow/scripts/daa.py"
