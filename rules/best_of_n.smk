rule reward_model:
    input:
        model="results/models/{rep}{size}/sft",
        pairs=f"{PAIRS}preferences.jsonl",
        heldout=f"{PAIRS}heldout_preferences.jsonl",
        gate=quality_gate,
    output:
        model=directory("results/reward_models/{rep}{size}/model"),
        accuracy="results/reward_models/{rep}{size}/accuracy.json",
        history="results/reward_models/{rep}{size}/history.csv",
    log:
        "logs/reward_model/{rep}{size}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("reward_model"),
    params:
        settings=settings_of("reward_model"),
        code=code_of("reward_model"),
    script:
        "../workflow/scripts/reward_model.py"


rule best_of_n_sample:
    input:
        ref="results/models/{rep}{size}/sft",
        reward_model="results/reward_models/{rep}{size}/model",
        eval=f"{DATA}/eval.jsonl",
    output:
        draws="results/best_of_n/{rep}{size}/draws.jsonl",
    log:
        "logs/best_of_n_sample/{rep}{size}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("best_of_n_sample"),
    params:
        settings=settings_of("best_of_n_sample"),
        code=code_of("best_of_n_sample"),
    script:
        "../workflow/scripts/best_of_n_sample.py"


rule best_of_n:
    input:
        draws="results/best_of_n/{rep}{size}/draws.jsonl",
        accuracy="results/reward_models/{rep}{size}/accuracy.json",
        eval=f"{DATA}/eval.jsonl",
    output:
        scored="results/best_of_n/{rep}{size}/scored.jsonl",
        samples=[
            f"results/best_of_n/{{rep}}{{size}}/{p}/samples.jsonl"
            for p in BON_POLICIES
        ],
        metrics=[
            f"results/best_of_n/{{rep}}{{size}}/{p}/metrics.json" for p in BON_POLICIES
        ],
    log:
        "logs/best_of_n/{rep}{size}.log",
    conda:
        "../envs/train.yaml"
    threads: THREADS
    resources:
        **resources_of("best_of_n"),
    params:
        settings=settings_of("best_of_n"),
        code=code_of("best_of_n", judge=True),
        cache_dir=JUDGE_CACHE,
    script:
        "../workflow/scripts/best_of_n.py"


rule reward_models:
    input:
        [f"results/reward_models/{rep}{s}/accuracy.json" for rep in REPS for s in SIZES],
    output:
        report(
            "results/tables/reward_models.csv",
            caption="../workflow/report/reward_models.rst",
            category="Tables",
        ),
    log:
        "logs/reward_models.log",
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=settings_of("reward_models"),
        code=code_of("reward_models"),
    script:
        "../workflow/scripts/reward_models.py"
