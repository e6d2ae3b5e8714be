rule sft:
    input:
        data=f"{DATA}/sft.jsonl",
        tokenizer=tokenizer_input,
    output:
        model=directory("results/models/{rep}{size}/sft"),
        history="results/models/{rep}{size}/sft_history.csv",
    log:
        "logs/sft/{rep}{size}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("sft"),
    params:
        settings=settings_of("sft"),
        code=code_of("sft"),
        tokenizer=lambda wc: tokenizer_source(wc.size),
    script:
        "../workflow/scripts/sft.py"


if SYNTHETIC:

    rule sft_quality:
        input:
            model="results/models/{rep}{size}/sft",
            eval=f"{DATA}/eval.jsonl",
        output:
            report(
                "results/models/{rep}{size}/sft_quality.json",
                caption="../workflow/report/sft_quality.rst",
                category="SFT",
                labels={"model size": "{size}"},
            ),
        log:
            "logs/sft_quality/{rep}{size}.log",
        conda:
            "../envs/train.yaml"
        threads: 1
        resources:
            **resources_of("sft_quality"),
        params:
            settings=settings_of("sft_quality"),
            code=code_of("sft_quality"),
        script:
            "../workflow/scripts/sft_quality.py"
