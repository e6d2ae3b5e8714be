"""A Hugging Face reward model as judge: P(A beats B) = sigmoid(r(post, A) - r(post, B))."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from overopt.evaluate.judges import register_judge
from overopt.evaluate.judges.base import JudgeItem, Verdict

if TYPE_CHECKING:  # imported where used: registering the judge must stay cheap
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

CONFIG_KEYS = {"type", "model", "revision", "batch_size", "max_length", "device", "dtype", "text"}
TEXTS = ("pair", "concat")  # (post, summary) as a tokenizer text pair, or post + summary + eos as one text


@register_judge("reward_model")
class RewardModelJudge:
    """Scores (post, summary) as a text pair with a one-label sequence-classification model.

    Padding is on the right, so a causal model's scored (last real) token keeps its positions,
    and truncation (longest first) cuts the post before the summary. ``text="concat"`` scores
    ``post + summary + eos`` as one text instead, as TRL's ``RewardTrainer`` trains on a
    prompt/completion row (the reward_model rule's proxy models; truncation then keeps the start).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 16,
        max_length: int = 512,
        name: str = "reward_model",
        text: str = "pair",
    ) -> None:
        if text not in TEXTS:
            raise ValueError(f"judge (reward_model): text must be one of {TEXTS}, not {text!r}")
        if model.config.num_labels != 1:
            raise ValueError(f"reward model must have num_labels=1, got {model.config.num_labels}")
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.name = name
        self.text = text

    CONFIG_KEYS = frozenset(CONFIG_KEYS)
    REQUIRED_KEYS = ("model",)

    @classmethod
    def from_config(
        cls, cfg: dict[str, Any], *, seed: int = 0, cache_dir: str | None = None
    ) -> RewardModelJudge:
        """Build from config ``judge`` (type: reward_model): model, revision, batch_size, ..."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        unknown = set(cfg) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"judge (reward_model): unknown keys {sorted(unknown)}")
        if not cfg.get("model"):
            raise ValueError("judge (reward_model): missing key 'model'")
        path, revision = str(cfg["model"]), cfg.get("revision")
        device = cfg.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            revision=revision,
            num_labels=1,
            dtype=getattr(torch, str(cfg.get("dtype", "float32"))),
        ).to(device)
        return cls(
            model,
            tokenizer,
            batch_size=int(cfg.get("batch_size", 16)),
            max_length=int(cfg.get("max_length", 512)),
            name=f"reward_model:{path}",
            text=str(cfg.get("text", "pair")),
        )

    def score(self, posts: Sequence[str], summaries: Sequence[str]) -> list[float]:
        """Scalar reward for each (post, summary) pair, batched."""
        import torch

        scores: list[float] = []
        device = self.model.device
        for start in range(0, len(posts), self.batch_size):
            batch_posts = list(posts[start : start + self.batch_size])
            batch_summaries = list(summaries[start : start + self.batch_size])
            if self.text == "concat":
                from overopt.lm.reward import reward_text  # torch and transformers: not at registration

                eos = self.tokenizer.eos_token
                texts = [reward_text(p, s, eos) for p, s in zip(batch_posts, batch_summaries, strict=True)]
                enc = self.tokenizer(
                    texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                ).to(device)
            else:
                enc = self.tokenizer(
                    batch_posts,
                    batch_summaries,
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(device)
            with torch.no_grad():
                logits = self.model(**enc).logits
            scores.extend(logits[:, 0].float().cpu().tolist())
        return scores

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """P(A beats B) = sigmoid(score A - score B); each distinct pair is scored once."""
        pairs = list(dict.fromkeys(p for it in items for p in ((it.post, it.a), (it.post, it.b))))
        scores = self.score([post for post, _ in pairs], [summary for _, summary in pairs])
        by_pair = dict(zip(pairs, scores, strict=True))
        return [Verdict(prob_a=_sigmoid(by_pair[(it.post, it.a)] - by_pair[(it.post, it.b)])) for it in items]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
