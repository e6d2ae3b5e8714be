"""Toy tree MDP (finding 6): hand-derived gradients and masses, training behaviour, outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from overopt.toy import mdp as tm
from overopt.toy.plot import plot

REPO = Path(__file__).resolve().parents[1]
LOSS_TYPES = ("sigmoid", "ipo", "hinge")
SMALL = {"seeds": [0], "steps": 20, "log_every": 5, "betas": [0.5]}


def loss_derivative(loss_type: str, beta: float, h: float) -> float:
    """dL/dh by hand: DPO -beta*sigmoid(-beta h); IPO 2(h - 1/(2 beta)); SLiC -beta [beta h < 1]."""
    if loss_type == "sigmoid":
        return -beta / (1.0 + math.exp(beta * h))
    if loss_type == "ipo":
        return 2.0 * (h - 1.0 / (2.0 * beta))
    return -beta if beta * h < 1.0 else 0.0


def autograd_grad(tree, logits, ref, pairs, loss_type, beta) -> torch.Tensor:
    x = logits.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(tm.objective(tree, x, ref, pairs, loss_type, beta), x)
    return g


def softmax(row: list[float]) -> list[float]:
    z = [math.exp(v) for v in row]
    return [v / sum(z) for v in z]


@pytest.fixture(scope="module")
def default_table() -> pd.DataFrame:
    return tm.run()


# (a) gradients


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("theta", [(0.0, 0.0, 0.0), (0.7, -0.4, 0.2), (4.0, -3.0, 1.0)])
def test_depth1_gradient_matches_hand_formula(loss_type: str, theta: tuple[float, ...]) -> None:
    """Depth 1, uniform reference, one pair (w=0, l=1): dL/dtheta = L'(h) (e_w - e_l).

    h = theta_w - theta_l: d log pi(a)/d theta = e_a - pi, and the pi terms cancel in h. The
    last theta puts SLiC past its hinge at beta 0.5 and 2 (beta h = 3.5, 14): zero gradient.
    """
    tree = tm.Tree(depth=1, n_actions=3)
    ref = tm.reference_logits(tree, "uniform")
    logits = torch.tensor([theta], dtype=tm.DTYPE)
    for beta in (0.1, 0.5, 2.0):
        h = theta[0] - theta[1]
        expected = loss_derivative(loss_type, beta, h) * torch.tensor([[1.0, -1.0, 0.0]], dtype=tm.DTYPE)
        got = autograd_grad(tree, logits, ref, [(0, 1)], loss_type, beta)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_depth2_gradient_matches_hand_formula(loss_type: str) -> None:
    """Depth 2, random logits and reference, two pairs: grad = mean_p L'(h_p) (G_w - G_l),
    where G_tau puts e_a - pi(.|s) at every node s visited by tau (a: the action taken)."""
    tree = tm.Tree(depth=2, n_actions=3)
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(tree.n_nodes, 3, generator=gen, dtype=tm.DTYPE)
    ref = torch.randn(tree.n_nodes, 3, generator=gen, dtype=tm.DTYPE)
    pairs = tm.parse_pairs(tree, [[[0, 1], [2, 0]], [[1, 1], [1, 2]]])
    pol = [softmax(row) for row in logits.tolist()]
    rpol = [softmax(row) for row in ref.tolist()]

    def log_ratio(traj: tuple[int, ...]) -> float:
        nodes = [tree.node_index(traj[:d]) for d in range(len(traj))]
        return sum(math.log(pol[s][a] / rpol[s][a]) for s, a in zip(nodes, traj, strict=True))

    def grad_logp(traj: tuple[int, ...]) -> torch.Tensor:
        g = torch.zeros(tree.n_nodes, 3, dtype=tm.DTYPE)
        for d, a in enumerate(traj):
            s = tree.node_index(traj[:d])
            g[s] -= torch.tensor(pol[s], dtype=tm.DTYPE)
            g[s, a] += 1.0
        return g

    beta = 0.5
    expected = torch.zeros(tree.n_nodes, 3, dtype=tm.DTYPE)
    for w, l in pairs:  # noqa: E741
        tw, tl = tree.trajectories[w], tree.trajectories[l]
        h = log_ratio(tw) - log_ratio(tl)
        expected += loss_derivative(loss_type, beta, h) * (grad_logp(tw) - grad_logp(tl)) / len(pairs)
    got = autograd_grad(tree, logits, ref, pairs, loss_type, beta)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_optimizers_first_step_by_hand() -> None:
    """SGD: theta - lr g. Adam's first step: theta - lr g / (|g| + eps), i.e. about lr sign(g)."""
    g = torch.tensor([[0.3, -2.0, 0.0]], dtype=tm.DTYPE)
    for kind, expected in (
        ("sgd", -0.1 * g),
        ("adam", -0.1 * g / (g.abs() + 1e-8)),
    ):
        x = torch.zeros(1, 3, dtype=tm.DTYPE)
        tm.Optimizer(kind, lr=0.1).step(x, g)
        torch.testing.assert_close(x, expected, rtol=1e-12, atol=1e-12)


def test_batched_training_equals_one_by_one() -> None:
    tree = tm.Tree(depth=2, n_actions=3)
    ref = tm.reference_logits(tree, "random", 1.0, seed=3)
    pairs = tm.draw_pairs(tree, ref, 4, "mixed", seed=3)
    runs = [tm.TreeRun(ref, pairs, lt, b) for lt in LOSS_TYPES for b in (0.1, 1.0)]
    kwargs = {"steps": 40, "lr": 0.05, "optimizer": "adam", "log_every": 10}
    together = tm.train_many(tree, runs, **kwargs)
    for r, rows in zip(runs, together, strict=True):
        alone = tm.train(tree, r.ref_logits, r.pairs, r.loss_type, r.beta, **kwargs)
        assert pd.DataFrame(rows).round(12).equals(pd.DataFrame(alone).round(12))


# (b) exact masses


def test_ood_mass_and_kl_by_hand() -> None:
    """Depth 2: pi(a0, a1) = softmax(root)[a0] * softmax(node a0)[a1]; OOD = 1 - sum over ID."""
    tree = tm.Tree(depth=2, n_actions=3)
    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(tree.n_nodes, 3, generator=gen, dtype=tm.DTYPE)
    ref = torch.randn(tree.n_nodes, 3, generator=gen, dtype=tm.DTYPE)
    pairs = tm.parse_pairs(tree, [[[0, 0], [1, 2]], [[2, 1], [0, 0]]])
    in_dist = [(0, 0), (1, 2), (2, 1)]

    def prob(table: torch.Tensor, a0: int, a1: int) -> float:
        rows = table.tolist()
        return softmax(rows[0])[a0] * softmax(rows[1 + a0])[a1]

    stats = tm.exact_stats(tree, logits, ref, tm.id_mask(tree, pairs), tm.chosen_mask(tree, pairs))
    ood = 1.0 - sum(prob(logits, *t) for t in in_dist)
    # chosen: (0, 0) and (2, 1); (1, 2) is only ever rejected ((0, 0) is chosen once, rejected once)
    assert stats["chosen_mass"].item() == pytest.approx(prob(logits, 0, 0) + prob(logits, 2, 1), abs=1e-12)
    assert stats["rejected_mass"].item() == pytest.approx(prob(logits, 1, 2), abs=1e-12)
    kl = sum(
        prob(logits, a0, a1) * math.log(prob(logits, a0, a1) / prob(ref, a0, a1))
        for a0 in range(3)
        for a1 in range(3)
    )
    assert stats["ood_mass"].item() == pytest.approx(ood, abs=1e-12)
    assert stats["id_mass"].item() == pytest.approx(1.0 - ood, abs=1e-12)
    assert stats["kl"].item() == pytest.approx(kl, abs=1e-12)


def test_tree_indexing() -> None:
    tree = tm.Tree(depth=3, n_actions=3)
    assert len(tree.trajectories) == 27 and tree.n_nodes == 13
    assert all(tree.index(t) == i for i, t in enumerate(tree.trajectories))
    assert tree.logps(torch.zeros(13, 3, dtype=tm.DTYPE)).exp().sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        tree.index([0, 3, 0])


# (c) behaviour after training


def final_and_start(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = df[df["step"] == df["step"].max()].set_index(["seed", "objective", "beta"])
    first = df[df["step"] == 0].set_index(["seed", "objective", "beta"])
    return last, first


def test_default_run_headline(default_table: pd.DataFrame) -> None:
    """Every objective ends above the reference's OOD mass for some (seed, beta), and ID mass
    falls from its peak in some run; each (objective, beta) case holds exactly when its CI over
    seeds lies above 0, and the verdict is the study's one rule over the cases."""
    last, first = final_and_start(default_table)
    gain = (last["ood_mass"] - first["ood_mass"]).groupby("objective").max()
    assert (gain > 0.01).all(), gain
    peak = default_table.groupby(["seed", "objective", "beta"])["id_mass"].max()
    assert ((peak - last["id_mass"]) > 0.01).any()
    f = tm.findings_row(default_table)
    cases = [c for o in f["objectives"].values() for c in o["by_beta"].values()]
    assert len(cases) == default_table.groupby(["objective", "beta"]).ngroups
    for c in cases:
        mean, low, high = c["ood_gain"]
        assert low <= mean <= high and c["holds"] == (low > 0)
    assert f["verdict"] == tm.graded([c["holds"] for c in cases])
    # ID mass = chosen + only-rejected, so OOD + chosen + rejected = 1 throughout
    total = default_table["ood_mass"] + default_table["chosen_mass"] + default_table["rejected_mass"]
    assert np.allclose(total, 1.0, atol=1e-9)


def test_a_planted_ood_gain_is_found_and_none_is_not() -> None:
    """The criterion on hand-made tables: a gain of 0.05 in every seed holds; noise around 0 does not."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(32):
        for name, gain in (("up", 0.05), ("flat", 0.0)):
            ood1 = 0.3 + gain + (0.0 if name == "up" else rng.normal(0, 0.05))
            for step, ood in ((0, 0.3), (10, ood1)):
                rows.append(
                    {"seed": seed, "objective": name, "loss_type": "sigmoid", "beta": 0.1, "step": step,
                     "id_mass": 1 - ood, "ood_mass": ood, "chosen_mass": (1 - ood) / 2,
                     "rejected_mass": (1 - ood) / 2, "kl": 0.0, "loss": 0.0}
                )  # fmt: skip
    f = tm.findings_row(pd.DataFrame(rows))
    assert f["objectives"]["up"]["by_beta"]["0.1"]["holds"] is True
    assert f["objectives"]["flat"]["by_beta"]["0.1"]["holds"] is False
    assert f["verdict"] == "partly"


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_rare_chosen_prefix_leaks_mass_ood(loss_type: str) -> None:
    """Mechanism: the chosen trajectory (1, 1) is unlikely under the reference, in a branch the
    reference also finds unlikely; raising that branch raises its OOD continuations with it."""
    tree = tm.Tree(depth=2, n_actions=3)
    ref = torch.tensor([[3, 0, 0], [3, 0, 0], [3, 0, 3], [0, 0, 0]], dtype=tm.DTYPE)
    pairs = tm.parse_pairs(tree, [[[1, 1], [0, 0]]])
    runs = [tm.TreeRun(ref, pairs, loss_type, b) for b in (0.1, 0.5, 1.0)]
    logged = tm.train_many(tree, runs, steps=200, lr=0.05, log_every=200)
    gains = [rows[-1]["ood_mass"] - rows[0]["ood_mass"] for rows in logged]
    assert max(gains) > 0.1, gains


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_depth1_uniform_reference_never_gains_ood(loss_type: str) -> None:
    """Negative control: at depth 1 the OOD action's logit gets no gradient, so its mass can
    only fall while the pair's logits spread apart."""
    tree = tm.Tree(depth=1, n_actions=3)
    ref = tm.reference_logits(tree, "uniform")
    rows = tm.train(tree, ref, [(0, 1)], loss_type, 0.5, steps=100, lr=0.05, log_every=5)
    assert max(r["ood_mass"] for r in rows) <= rows[0]["ood_mass"] + 1e-12


# run, outputs, determinism


def test_default_run_is_deterministic(default_table: pd.DataFrame, tmp_path: Path) -> None:
    again = tm.run()
    tm.write_table(again, tmp_path / "a.csv")
    tm.write_table(default_table, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert list(again.columns) == list(tm.COLUMNS)
    cfg = tm.ToyConfig.from_mapping(None)
    per_run = cfg.steps // cfg.log_every + 1
    assert len(again) == len(cfg.seeds) * len(cfg.objectives) * len(cfg.betas) * per_run


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown"):
        tm.run({"depht": 2})
    with pytest.raises(ValueError, match="pair_source"):
        tm.run({**SMALL, "pair_source": "nowhere"})
    assert tm.ToyConfig.from_mapping({"seed": 3}).seeds == [3]
    with pytest.raises(ValueError, match="not both"):
        tm.ToyConfig.from_mapping({"seed": 3, "seeds": [1]})
    explicit = tm.run({**SMALL, "depth": 2, "reference": "uniform", "pairs": [[[0, 0], [1, 1]]]})
    assert explicit["ood_mass"].iloc[0] == pytest.approx(7 / 9)


def test_figure_bytes_are_deterministic(tmp_path: Path) -> None:
    df = tm.run({**SMALL, "seeds": [0, 1], "betas": [0.1, 1.0]})
    for name in ("a", "b"):
        plot(df, tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()
    assert b"Software" not in (tmp_path / "a.png").read_bytes()


def test_rule_output_in_the_smoke_study(smoke_dir: Path, tmp_path: Path) -> None:
    table = pd.read_csv(smoke_dir / "results" / "toy_mdp" / "toy_mdp.csv")
    assert list(table.columns) == list(tm.COLUMNS)
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())["toy_mdp"]
    tm.write_table(tm.run(cfg), tmp_path / "again.csv")
    assert (smoke_dir / "results" / "toy_mdp" / "toy_mdp.csv").read_bytes() == (
        tmp_path / "again.csv"
    ).read_bytes()
    for ext in ("png", "pdf"):
        assert (smoke_dir / "results" / "figures" / f"toy_mdp.{ext}").stat().st_size > 0
    findings = json.loads((smoke_dir / "results" / "toy_mdp" / "findings.json").read_text())
    assert findings["verdict"] in {"reproduced", "partly", "not reproduced"} and findings["criterion"]
