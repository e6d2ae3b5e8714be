"""The tokenizer saved beside every model is the same bytes whatever the run's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from overopt.lm.tokenizer import train_word_tokenizer

SAVE = """
import sys
from overopt.lm.tokenizer import load_tokenizer
load_tokenizer(sys.argv[1]).save_pretrained(sys.argv[2])
"""


def _load_and_save(src: Path, dst: Path, offline: str) -> dict[str, bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": offline}
    subprocess.run([sys.executable, "-c", SAVE, str(src), str(dst)], env=env, check=True)
    return {p.name: p.read_bytes() for p in sorted(dst.iterdir())}


def test_saved_tokenizer_does_not_depend_on_hf_hub_offline(tmp_path):
    src = tmp_path / "trained"
    train_word_tokenizer(["alice owns car ; bob likes dog", "tldr : carol fears cat"], src)
    online = _load_and_save(src, tmp_path / "online", "0")
    offline = _load_and_save(src, tmp_path / "offline", "1")
    assert online.keys() == offline.keys() and "tokenizer_config.json" in online
    assert online == offline
    assert b"local_files_only" not in online["tokenizer_config.json"]
