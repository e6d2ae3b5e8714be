"""Packed preference pairs (each prompt computed once) against the unpacked forward they replace:
TRL's fused head in DAA training, teacher-forced pair scoring, and the reference prefill kept
across the policies of an evaluation group."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from trl.trainer.utils import add_fused_lm_head

from overopt.core.runs import Run
from overopt.data import synthetic
from overopt.lm.generation import Prefills, SampleConfig, sample
from overopt.lm.models import build_model, neox_config
from overopt.lm.packing import pack_pairs
from overopt.lm.scoring import completion_ids, pair_logps, sequence_logps
from overopt.lm.tokenizer import load_tokenizer, train_word_tokenizer
from overopt.train.daa import DAATrainer, dpo_config, pairs_dataset
from overopt.train.shared_prompt import share_prompts

FIELDS = ("log_probs", "entropy", "mean_logits", "is_top1")


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    rng = random.Random(0)
    rows = synthetic.generate(24, 0, "pack", synthetic.TaskParams())
    pairs = [
        {
            "id": r["id"],
            "prompt": r["prompt"],
            "chosen": r["reference"],
            "rejected": synthetic.perturb(rng, r["prompt"], r["reference"]),
        }
        for r in rows
    ]
    path = tmp_path_factory.mktemp("tok")
    train_word_tokenizer(
        [" ".join(synthetic.vocabulary())] + [p["prompt"] + p["chosen"] for p in pairs], path
    )
    tok = load_tokenizer(str(path))
    cfg = neox_config(
        {"hidden_size": 16, "num_layers": 2, "num_heads": 2}, len(tok), tok.eos_token_id, tok.pad_token_id
    )
    return tok, cfg, pairs


def trl_batch(task, tmp_path, attention: str):
    """A model with TRL's fused head, the same model with packing on top, and one TRL DPO batch."""
    tok, cfg, pairs = task
    model = build_model(cfg, seed=3)
    model.config._attn_implementation = attention
    args = dpo_config(
        {"batch_size": 12, "learning_rate": 1e-3, "max_length": 64},
        {"loss_type": "sigmoid"},
        0.1,
        str(tmp_path),
        0,
    )
    ref = {p["id"]: {"ref_chosen_logps": 0.0, "ref_rejected_logps": 0.0} for p in pairs}
    trainer = DAATrainer(
        model=copy.deepcopy(model),
        args=args,
        train_dataset=pairs_dataset(pairs, ref),
        processing_class=tok,
        run=Run("t", "dpo", "0.1"),
    )
    batch = next(
        iter(
            torch.utils.data.DataLoader(
                trainer.train_dataset, batch_size=12, collate_fn=trainer.data_collator
            )
        )
    )
    plain = copy.deepcopy(model)
    add_fused_lm_head(plain, outputs=FIELDS)
    return plain, trainer.model, batch


def fused(model, batch, input_ids=None):
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    ids = batch["input_ids"] if input_ids is None else input_ids
    return model(
        input_ids=ids,
        attention_mask=batch["attention_mask"],
        labels=labels,
        use_cache=False,
        fused_lm_head=True,
    )


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_training_forward_equals_trls(task, tmp_path, attention):
    plain, packed, batch = trl_batch(task, tmp_path, attention)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    layout = pack_pairs(batch["input_ids"], batch["attention_mask"], labels)
    assert layout is not None
    assert layout.input_ids.numel() < 0.75 * batch["input_ids"].numel()  # the prompts once, not twice
    a, b = fused(plain, batch), fused(packed, batch)
    for field in FIELDS:
        assert torch.allclose(getattr(a, field), getattr(b, field), atol=2e-5), field
    assert bool((a.log_probs != 0).any())
    # the same gradients, for a loss that weighs chosen and rejected differently
    weights = torch.linspace(-1.0, 2.0, batch["input_ids"].size(0))
    grads = []
    for model, out in ((plain, a), (packed, b)):
        model.zero_grad()
        (out.log_probs.sum(1) * weights).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-5


def test_a_batch_whose_pairs_do_not_share_a_prompt_goes_through_trl(task, tmp_path):
    plain, packed, batch = trl_batch(task, tmp_path, "sdpa")
    ids = batch["input_ids"].clone()
    ids[ids.size(0) // 2, 0] = ids[0, 1]  # the first rejected row's prompt now differs from its chosen row's
    labels = ids.masked_fill(batch["completion_mask"] == 0, -100)
    assert pack_pairs(ids, batch["attention_mask"], labels) is None
    a, b = fused(plain, batch, ids), fused(packed, batch, ids)
    assert torch.equal(a.log_probs, b.log_probs)


def test_sharing_the_prompt_is_patched_once(task, tmp_path):
    _, packed, _ = trl_batch(task, tmp_path, "sdpa")
    forward = packed.forward
    share_prompts(packed, FIELDS)
    assert packed.forward is forward


def test_packed_pair_scoring_equals_unpacked(task):
    tok, cfg, pairs = task
    model = build_model(cfg, seed=4).eval()
    prompts = [p["prompt"] for p in pairs]
    chosen, rejected = [p["chosen"] for p in pairs], [p["rejected"] for p in pairs]
    got_w, got_r = pair_logps(model, tok, prompts, chosen, rejected, batch_size=10)
    want_w = sequence_logps(model, tok, prompts, chosen)
    want_r = sequence_logps(model, tok, prompts, rejected)
    assert got_w == pytest.approx(want_w, abs=1e-4) and got_r == pytest.approx(want_r, abs=1e-4)
    # a completion that re-tokenizes its prompt's end cannot share the prompt: scored unpacked
    glued = ["x" + c.lstrip() for c in rejected[:3]]  # no space: the prompt's last word changes
    split = [len(p) for p, _ in completion_ids(tok, prompts[:3], glued)]
    assert split != [len(p) for p, _ in completion_ids(tok, prompts[:3], chosen[:3])]
    _, r = pair_logps(model, tok, prompts[:3], chosen[:3], glued)
    assert r == pytest.approx(sequence_logps(model, tok, prompts[:3], glued), abs=1e-4)


def test_kept_reference_prefill_changes_no_sample(task):
    tok, cfg, pairs = task
    ref = build_model(cfg, seed=5).eval()
    policies = [build_model(cfg, seed=s).eval() for s in (6, 7)]
    prompts = [p["prompt"] for p in pairs]
    cfg_s = SampleConfig(max_new_tokens=6, batch_size=10, seed=1)
    prefills = Prefills()
    kept = [sample(p, tok, prompts, cfg_s, ref, prefills) for p in policies]
    plain = [sample(p, tok, prompts, cfg_s, ref) for p in policies]
    assert kept == plain
    assert len(prefills._kept) == 3  # 24 prompts in batches of 10


def test_packed_reward_model_forward_equals_the_classifiers(task):
    from transformers import GPTNeoXForSequenceClassification
    from trl.trainer.reward_trainer import DataCollatorForPreference

    from overopt.train.reward_model import tokenize_pairs
    from overopt.train.shared_prompt import share_reward_prefixes

    tok, cfg, pairs = task
    torch.manual_seed(8)
    plain = GPTNeoXForSequenceClassification(
        copy.deepcopy(cfg).__class__(**{**cfg.to_dict(), "num_labels": 1})
    )
    plain.config.pad_token_id = tok.pad_token_id
    packed = copy.deepcopy(plain)
    share_reward_prefixes(packed)
    pairs = [*pairs[:11], {**pairs[11], "rejected": pairs[11]["chosen"]}]  # one pair of identical texts
    data = tokenize_pairs(pairs, tok)
    batch = DataCollatorForPreference(pad_token_id=tok.pad_token_id)([data[i] for i in range(len(pairs))])
    a = plain(**batch, use_cache=False).logits
    b = packed(**batch, use_cache=False).logits
    assert a.shape == b.shape == (24, 1)
    assert torch.allclose(a, b, atol=1e-5)
    assert float(b[11]) == pytest.approx(float(b[23]), abs=1e-6)  # identical texts, identical scores
    weights = torch.linspace(-1.0, 2.0, 24)
    grads = []
    for model, out in ((plain, a), (packed, b)):
        model.zero_grad()
        (out.squeeze(-1) * weights).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-5
