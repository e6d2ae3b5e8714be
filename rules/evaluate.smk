rule sample:
    input:
        policies=group_models,
        ref="results/models/{rep}{size}/sft",
        eval=f"{DATA}/eval.jsonl",
        heldout=f"{PAIRS}heldout_preferences.jsonl",
    output:
        "results/eval/{rep}{size}/{group}/sampled.jsonl",
    log:
        "logs/sample/{rep}{size}/{group}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **resources_of("sample"),
    params:
        settings=settings_of("sample"),
        code=code_of("sample"),
        policies=lambda wc: group_specs(wc.rep, wc.size, wc.group),
    script:
        "../workflow/scripts/sample.py"


rule judge:
    input:
        samples="results/eval/{rep}{size}/{group}/sampled.jsonl",
        eval=f"{DATA}/eval.jsonl",
    output:
        samples=[
            f"results/eval/{{rep}}{{size}}/{{group}}/{c}/samples.jsonl" for c in CKPTS
        ],
        metrics=[
            f"results/eval/{{rep}}{{size}}/{{group}}/{c}/metrics.json" for c in CKPTS
        ],
    log:
        "logs/judge/{rep}{size}/{group}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **resources_of("judge"),
    params:
        settings=settings_of("judge"),
        code=code_of("judge", judge=True),
        infos=lambda wc: group_infos(wc.size, wc.get("group", "sft")),
        cache_dir=JUDGE_CACHE,
    script:
        "../workflow/scripts/judge.py"


use rule judge as judge_sft with:
    input:
        samples="results/eval/{rep}{size}/sft/sampled.jsonl",
        eval=f"{DATA}/eval.jsonl",
    output:
        samples=[f"results/eval/{{rep}}{{size}}/{p}/samples.jsonl" for p in SFT_GROUP],
        metrics=[f"results/eval/{{rep}}{{size}}/{p}/metrics.json" for p in SFT_GROUP],
    log:
        "logs/judge/{rep}{size}/sft.log",


rule collect:
    input:
        metrics=policy_files("metrics.json"),
        samples=policy_files("samples.jsonl"),
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
        policies=REP_POLICIES,
    script:
        "../workflow/scripts/collect.py"
