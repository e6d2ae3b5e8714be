"""`snakemake --report` builds a self-contained HTML report with every figure, table and the findings."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import snakemake


def test_report_is_self_contained_with_figures_tables_findings(fresh_copy):
    work: Path = fresh_copy("report")
    proc = snakemake(work, "--report", "report.html")
    assert "ERROR" not in proc.stderr, proc.stderr[-2000:]
    html = (work / "report.html").read_text(encoding="utf-8")
    for name in (
        "figure1.png",
        "intra_epoch.png",
        "length.png",
        "implicit_acc.png",
        "toy_mdp.png",
        "evaluations.csv",
        "fits.csv",
        "pooled.csv",
        "findings.html",
        "provenance.csv",
    ):
        assert name in html, name
    assert html.count("data:image/png") >= 5  # figures embedded, not linked
    assert not re.findall(r'(?:src|href)="https?://', html)  # nothing fetched from the network
