"""Finding 5: implicit-reward accuracy against win rate."""

from __future__ import annotations

import numpy as np

from overopt.analysis import criteria as C
from overopt.analysis.findings.base import (
    R_SMALL,
    Finding,
    Tables,
    case,
    finding,
    holm,
    not_tested,
    verdict,
    within,
)
from overopt.analysis.findings.markdown import CASE_HEADER, case_cells, count, table
from overopt.analysis.tables import (
    daa_objectives,
)


@finding("5", order=5)
def finding5(t: Tables) -> Finding:
    """Implicit-reward accuracy has little correlation with win rate."""
    claim = "Held-out implicit-reward accuracy has little correlation with win rate."
    if t.pooled is None:
        return not_tested("5", claim)
    p, cases = t.pooled, []
    for size in t.sizes:
        policies = [
            x for o in daa_objectives(t.ev, t.specs) if len(p.rows(size, o)) for x in p.policies(size, o)
        ]
        if len(policies) < 3:
            continue
        for column, label in (("implicit_acc", "noisy labels"), ("implicit_acc_gold", "gold labels")):
            if column not in p.ev.columns:
                continue
            acc = np.stack(
                [
                    p.ev[(p.ev["replicate"] == r) & (p.ev["model_size"] == size)]
                    .set_index("policy")
                    .loc[policies, column]
                    .to_numpy(dtype=np.float64)
                    for r in p.replicates
                ]
            )
            if not np.isfinite(acc).all():
                continue
            est = C.accuracy_correlation(p.stack(size, policies), acc, t.boot("implicit", size, column))
            cases.append(case((size, label, str(len(policies))), est, within(-R_SMALL, R_SMALL)))
    cases = holm(cases)
    body = table(
        ["size", "accuracy on", "checkpoints", *CASE_HEADER], [[*c.labels, *case_cells(c, 2)] for c in cases]
    )
    return Finding(
        "5",
        claim,
        f"per size and label kind, the CI of r lies inside (-{R_SMALL:g}, {R_SMALL:g}).",
        verdict(cases),
        f"{count(cases)} (size, labels) cases with r inside ±{R_SMALL:g}",
        body,
        null=f"the accuracy tracks the win rate: |r| >= {R_SMALL:g}.",
        statistic="Pearson r over a size's DAA checkpoints between held-out implicit-reward accuracy (on the "
        "noisy preference labels, and on the noiseless gold order of the same pairs) and win rate, per "
        "replicate, averaged. On simulated studies with the study's measured variance components its "
        "95% CI is narrow on the low side (it excludes a true r of 0 from below in 4.5% of 400 studies, "
        "not 2.5%; coverage 94%; README, statistics section): a CI that ends just above "
        f"-{R_SMALL:g} is less certain than it says.",
        cases=tuple(cases),
    )
