if SYNTHETIC:

    rule prepare_data:
        output:
            sft=f"{DATA}/sft.jsonl",
            eval=f"{DATA}/eval.jsonl",
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
        log:
            "logs/prepare_data.log",
        benchmark:
            "logs/benchmarks/prepare_data.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../workflow/scripts/prepare_data.py"

    rule tokenizer:
        input:
            sft=f"{DATA}/sft.jsonl",
        output:
            directory("results/tokenizer"),
        log:
            "logs/tokenizer.log",
        benchmark:
            "logs/benchmarks/tokenizer.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../workflow/scripts/tokenizer.py"

    rule candidates:
        input:
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
            models=expand("results/models/{size}/sft", size=SIZES),
        output:
            f"{DATA}/candidates.jsonl",
        log:
            "logs/candidates.log",
        benchmark:
            "logs/benchmarks/candidates.tsv"
        threads: THREADS
        resources:
            mem_mb=4000,
            runtime=30,
        script:
            "../workflow/scripts/candidates.py"

    rule preferences:
        input:
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
            candidates=f"{DATA}/candidates.jsonl",
        output:
            train=f"{DATA}/preferences.jsonl",
            heldout=f"{DATA}/heldout_preferences.jsonl",
            stats=f"{DATA}/preference_stats.json",
        log:
            "logs/preferences.log",
        benchmark:
            "logs/benchmarks/preferences.tsv"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        script:
            "../workflow/scripts/preferences.py"

else:

    rule prepare_data:
        output:
            sft=f"{DATA}/sft.jsonl",
            eval=f"{DATA}/eval.jsonl",
            preferences=f"{DATA}/preferences.jsonl",
            heldout_preferences=f"{DATA}/heldout_preferences.jsonl",
        log:
            "logs/prepare_data.log",
        benchmark:
            "logs/benchmarks/prepare_data.tsv"
        threads: 4
        resources:
            mem_mb=16000,
            runtime=60,
        script:
            "../workflow/scripts/prepare_data.py"
