"""The implicit reward's held-out accuracy, against the noisy labels and against the gold order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from overopt.evaluate.sample_policies import gold_accuracy, implicit_margins


def test_margins_are_beta_times_the_log_ratio_difference() -> None:
    policy = (np.array([-1.0, -2.0]), np.array([-3.0, -1.0]))
    ref = (np.array([-2.0, -2.0]), np.array([-2.0, -2.0]))
    assert implicit_margins(policy, ref, 0.5).tolist() == pytest.approx([0.5 * (1 + 1), 0.5 * (0 - 1)])


def test_gold_accuracy_follows_the_gold_order_not_the_label() -> None:
    pairs = [
        {"gold_chosen": 1.0, "gold_rejected": 0.0},  # label agrees with gold
        {"gold_chosen": 0.0, "gold_rejected": 2.0},  # a flipped label: gold prefers "rejected"
        {"gold_chosen": 1.0, "gold_rejected": 1.0},  # a gold tie: left out
    ]
    margins = np.array([0.3, -0.2, 5.0])  # right on both gold-ordered pairs, wrong on the noisy label
    assert gold_accuracy(margins, pairs) == 1.0
    assert gold_accuracy(-margins, pairs) == 0.0
    assert math.isnan(gold_accuracy(margins, [{"prompt": "a"}] * 3))  # no gold rewards (hub data)
