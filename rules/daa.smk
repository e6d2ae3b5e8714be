rule ref_logps:
    input:
        model="results/models/{size}/sft",
        pairs=f"{PREF}/preferences.jsonl",
    output:
        "results/ref_logps/{size}.jsonl",
    log:
        "logs/ref_logps/{size}.log",
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
        model="results/models/{size}/sft",
        pairs=f"{PREF}/preferences.jsonl",
        ref_logps="results/ref_logps/{size}.jsonl",
        gate=quality_gate,
    output:
        checkpoints=[
            directory(f"results/daa/{{size}}/{{objective}}/beta-{{beta}}/{c}")
            for c in CKPTS
        ],
        history="results/daa/{size}/{objective}/beta-{beta}/history.csv",
    log:
        "logs/daa/{size}/{objective}/beta-{beta}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("daa"),
    params:
        settings=settings_of("daa"),
        code=code_of("daa", loss=True),
        state_dir=lambda wc: f"results/.state/daa/{wc.size}/{wc.objective}/beta-{wc.beta}",
    script:
        "../workflow/scripts/daa.py"
