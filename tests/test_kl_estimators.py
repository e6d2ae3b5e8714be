"""KL estimators against the exact KL of a model small enough to enumerate every sequence."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from overopt.lm.generation import SampleConfig, sample
from overopt.lm.models import build_model, neox_config
from overopt.lm.tokenizer import load_tokenizer, train_word_tokenizer

MAX_NEW = 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok")
    train_word_tokenizer(["a b a", "b a"], path)
    tok = load_tokenizer(str(path))
    cfg = neox_config(
        {"hidden_size": 8, "num_layers": 1, "num_heads": 2}, len(tok), tok.eos_token_id, tok.pad_token_id
    )
    policy, ref = build_model(cfg, seed=1), build_model(cfg, seed=2)
    # sharpen the random models so that the distributions differ clearly
    with torch.no_grad():
        policy.lm_head.weight.mul_(40)
        ref.lm_head.weight.mul_(25)
    return tok, policy.eval(), ref.eval()


_CACHE: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}


def next_token_logprobs(model, ids: list[int]) -> torch.Tensor:
    """Next-token log-probs after ``ids`` by a plain forward pass (no cache, no padding)."""
    key = (id(model), tuple(ids))
    if key not in _CACHE:
        with torch.no_grad():
            _CACHE[key] = F.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)
    return _CACHE[key]


def enumerate_sequences(tok, policy, ref, prompt: str):
    """Every completion (ended by eos or by the length cap) with log pi, log ref and summed per-token KL."""
    vocab = range(len(tok))
    p_ids = tok(prompt)["input_ids"]
    out = []
    for n in range(1, MAX_NEW + 1):
        for seq in itertools.product(vocab, repeat=n):
            if tok.eos_token_id in seq[:-1] or (n < MAX_NEW and seq[-1] != tok.eos_token_id):
                continue
            lp = lr = kl = 0.0
            for t, y in enumerate(seq):
                a = next_token_logprobs(policy, p_ids + list(seq[:t]))
                b = next_token_logprobs(ref, p_ids + list(seq[:t]))
                lp += float(a[y])
                lr += float(b[y])
                kl += float((a.exp() * (a - b)).sum())
            out.append((seq, lp, lr, kl))
    return out


def test_enumeration_is_a_distribution_and_per_token_kl_has_the_exact_expectation(setup):
    tok, policy, ref = setup
    seqs = enumerate_sequences(tok, policy, ref, "a b")
    assert sum(math.exp(lp) for _, lp, _, _ in seqs) == pytest.approx(1.0, abs=1e-9)
    exact = sum(math.exp(lp) * (lp - lr) for _, lp, lr, _ in seqs)
    per_token = sum(math.exp(lp) * kl for _, lp, _, kl in seqs)
    assert exact > 0.05
    assert per_token == pytest.approx(exact, rel=1e-9)  # chain rule: E[sum_t KL_t] = KL


def test_sampler_scores_match_teacher_forcing_with_left_padding(setup):
    tok, policy, ref = setup
    prompts = ["a b", "b", "a b a b a"]  # different lengths: left padding in one batch
    table = {
        p: {s: (lp, lr, kl) for s, lp, lr, kl in enumerate_sequences(tok, policy, ref, p)} for p in prompts
    }
    cfg = SampleConfig(temperature=1.0, max_new_tokens=MAX_NEW, batch_size=3, seed=5)
    samples = sample(policy, tok, prompts * 20, cfg, reference=ref)
    for prompt, s in zip(prompts * 20, samples, strict=True):
        lp, lr, kl = table[prompt][s.token_ids]
        assert s.logp_policy == pytest.approx(lp, abs=1e-4)
        assert s.logp_ref == pytest.approx(lr, abs=1e-4)
        assert s.kl_exact == pytest.approx(kl, abs=1e-4)


def test_both_estimators_agree_with_the_exact_kl_within_monte_carlo_error(setup):
    tok, policy, ref = setup
    seqs = enumerate_sequences(tok, policy, ref, "a b")
    exact = sum(math.exp(lp) * (lp - lr) for _, lp, lr, _ in seqs)
    n = 4000
    samples = sample(
        policy, tok, ["a b"] * n, SampleConfig(max_new_tokens=MAX_NEW, batch_size=1000, seed=9), reference=ref
    )
    for values in ([s.logp_policy - s.logp_ref for s in samples], [s.kl_exact for s in samples]):
        t = torch.tensor(values, dtype=torch.float64)
        se = float(t.std() / math.sqrt(n))
        assert abs(float(t.mean()) - exact) < 4 * se + 1e-6
    assert all(s.kl_exact >= 0 for s in samples)  # per sample, unlike the sequence-level estimate
    assert any(s.logp_policy - s.logp_ref < 0 for s in samples)


def test_policy_equal_to_reference_has_zero_kl(setup):
    tok, policy, _ = setup
    samples = sample(
        policy, tok, ["a b"] * 10, SampleConfig(max_new_tokens=MAX_NEW, seed=1), reference=policy
    )
    assert all(s.kl_exact == 0.0 and s.logp_policy == s.logp_ref for s in samples)


def test_temperature_zero_is_greedy_with_kl_minus_log_ref_of_the_argmax(setup):
    tok, policy, ref = setup
    p_ids = tok("a b")["input_ids"]
    seq, logp_ref = [], 0.0
    for _ in range(MAX_NEW):  # greedy decoding by plain forward passes
        y = int(next_token_logprobs(policy, p_ids + seq).argmax())
        logp_ref += float(next_token_logprobs(ref, p_ids + seq)[y])
        seq.append(y)
        if y == tok.eos_token_id:
            break
    cfg = SampleConfig(temperature=0.0, max_new_tokens=MAX_NEW, batch_size=4, seed=3)
    samples = sample(policy, tok, ["a b"] * 8, cfg, reference=ref)
    for s in samples:
        assert s.token_ids == tuple(seq) and s.logp_policy == 0.0
        assert s.logp_ref == pytest.approx(logp_ref, abs=1e-4)
        assert s.kl_exact == pytest.approx(-logp_ref, abs=1e-4)  # KL(delta_a || ref) = -log ref(a)
