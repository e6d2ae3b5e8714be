"""Finding 6: the toy tree MDP (read from its findings JSON)."""

from __future__ import annotations

from overopt.analysis.findings.base import Finding, Tables, finding
from overopt.core.verdicts import NOT_TESTED


@finding("6", order=6)
def finding6(t: Tables) -> Finding:
    """The toy tree MDP, summarised by ``overopt.toy.mdp.findings_row`` (read from its JSON)."""
    toy_row = t.toy
    claim = (
        "Toy tree MDP: with preference data covering only some trajectories, DPO, IPO and SLiC move "
        "probability onto out-of-distribution trajectories; in-distribution probability falls."
    )
    if not toy_row:
        return Finding("6", claim, "the toy MDP was not part of this run", NOT_TESTED, "not run")
    body = list(toy_row.get("table", []))
    return Finding(
        "6",
        str(toy_row.get("claim", claim)),
        str(toy_row.get("criterion", "see the toy MDP's findings")),
        str(toy_row.get("verdict", NOT_TESTED)),
        str(toy_row.get("summary", "from the toy MDP's findings")),
        body,
        null=str(toy_row.get("null", "")),
        statistic=str(toy_row.get("statistic", "")),
    )
