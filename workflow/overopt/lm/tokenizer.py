"""Tokenizers: a word-level one trained on the synthetic corpus, or a Hub model's own."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"


def train_word_tokenizer(texts: Iterable[str], out_dir: str | Path) -> PreTrainedTokenizerFast:
    """Train a whitespace word-level tokenizer on ``texts`` and save it with ``save_pretrained``.

    Special tokens come first (pad 0, unk 1, eos 2); the remaining ids follow word frequency
    order as the ``tokenizers`` trainer assigns them, which is deterministic for a fixed corpus.
    """
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, UNK, EOS], min_frequency=1)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=EOS,
        bos_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.save_pretrained(str(out_dir))
    return fast


# Loader options that transformers records in ``init_kwargs`` and so writes into every saved
# ``tokenizer_config.json``: ``local_files_only`` follows HF_HUB_OFFLINE, which would make a
# checkpoint's bytes depend on the environment of the run that wrote it.
LOADER_KWARGS = ("local_files_only", "cache_dir", "force_download", "proxies", "token")


def load_tokenizer(path_or_id: str, revision: str | None = None) -> PreTrainedTokenizerBase:
    """Load a tokenizer saved beside a model (or from the Hub); left padding, a pad token set."""
    tok = AutoTokenizer.from_pretrained(path_or_id, revision=revision)
    for key in LOADER_KWARGS:
        tok.init_kwargs.pop(key, None)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok
