rule sample:
    input:
        policies=group_models,
        ref="results/models/{size}/sft",
        eval=f"{DATA}/eval.jsonl",
        heldout=f"{PREF}/heldout_preferences.jsonl",
    output:
        "results/eval/{size}/{group}/sampled.jsonl",
    log:
        "logs/sample/{size}/{group}.log",
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **resources_of("sample"),
    params:
        settings=settings_of("sample"),
        code=code_of("sample"),
        policies=lambda wc: group_specs(wc.size, wc.group),
    script:
        "../workflow/scripts/sample.py"


rule judge:
    input:
        samples="results/eval/{size}/{group}/sampled.jsonl",
        eval=f"{DATA}/eval.jsonl",
    output:
        samples=[f"results/eval/{{size}}/{{group}}/{c}/samples.jsonl" for c in CKPTS],
        metrics=[f"results/eval/{{size}}/{{group}}/{c}/metrics.json" for c in CKPTS],
    log:
        "logs/judge/{size}/{group}.log",
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
        samples="results/eval/{size}/sft/sampled.jsonl",
        eval=f"{DATA}/eval.jsonl",
    output:
        samples=[f"results/eval/{{size}}/{p}/samples.jsonl" for p in SFT_GROUP],
        metrics=[f"results/eval/{{size}}/{p}/metrics.json" for p in SFT_GROUP],
    log:
        "logs/judge/{size}/sft.log",


rule collect:
    input:
        metrics=[policy_file(s, p, "metrics.json") for s, p in POLICIES],
        samples=[policy_file(s, p, "samples.jsonl") for s, p in POLICIES],
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
