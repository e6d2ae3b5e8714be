if SYNTHETIC:

    rule prepare_data:
        output:
            sft=f"{DATA}/sft.jsonl",
            eval=f"{DATA}/eval.jsonl",
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
        log:
            "logs/prepare_data.log",
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            **resources_of("prepare_data"),
        params:
            settings=settings_of("prepare_data"),
            code=code_of("prepare_data"),
        script:
            "../workflow/scripts/prepare_data.py"

    rule tokenizer:
        input:
            sft=f"{DATA}/sft.jsonl",
        output:
            directory("results/tokenizer"),
        log:
            "logs/tokenizer.log",
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            **resources_of("tokenizer"),
        params:
            settings=settings_of("tokenizer"),
            code=code_of("tokenizer"),
        script:
            "../workflow/scripts/tokenizer.py"

    rule candidates:
        input:
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
            models=lambda wc: [sft_model(wc.rep, s) for s in candidate_sizes(config)],
        output:
            f"{PREF}/{{rep}}candidates.jsonl",
        log:
            "logs/{rep}candidates.log",
        conda:
            "../envs/train.yaml"
        threads: THREADS
        resources:
            **resources_of("candidates"),
        params:
            settings=settings_of("candidates"),
            code=code_of("candidates"),
            pool=candidate_sizes(config),
        script:
            "../workflow/scripts/candidates.py"

    rule preferences:
        input:
            pref_prompts=f"{DATA}/pref_prompts.jsonl",
            heldout_pref_prompts=f"{DATA}/heldout_pref_prompts.jsonl",
            candidates=f"{PREF}/{{rep}}candidates.jsonl",
        output:
            train=f"{PREF}/{{rep}}preferences.jsonl",
            heldout=f"{PREF}/{{rep}}heldout_preferences.jsonl",
            stats=report(
                f"{PREF}/{{rep}}preference_stats.json",
                caption="../workflow/report/preference_stats.rst",
                category="Data",
            ),
        log:
            "logs/{rep}preferences.log",
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            **resources_of("preferences"),
        params:
            settings=settings_of("preferences"),
            code=code_of("preferences"),
        script:
            "../workflow/scripts/preferences.py"

else:

    rule prepare_data:
        output:
            sft=f"{DATA}/sft.jsonl",
            eval=f"{DATA}/eval.jsonl",
            preferences=f"{PREF}/preferences.jsonl",
            heldout_preferences=f"{PREF}/heldout_preferences.jsonl",
        log:
            "logs/prepare_data.log",
        conda:
            "../envs/data.yaml"
        threads: 4
        resources:
            mem_mb=16000,
            runtime=60,
        params:
            settings=settings_of("prepare_data"),
            code=code_of("prepare_data"),
        script:
            "../workflow/scripts/prepare_data.py"
