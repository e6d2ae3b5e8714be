"""Snakemake ``script:`` entry for the toy tree MDP (finding 6).

output: ``table`` (CSV), ``png``, ``pdf`` and, if named, ``findings`` (JSON).
config: ``toy_mdp`` (see ``overopt.toy_mdp.DEFAULT_CONFIG``).
"""

from overopt.io import write_json
from overopt.toy_mdp import findings_row, run, write_table
from overopt.toy_mdp_plot import plot

df = run(snakemake.config.get("toy_mdp"), threads=int(snakemake.threads))
write_table(df, snakemake.output.table)
plot(df, snakemake.output.png, snakemake.output.pdf)
findings = getattr(snakemake.output, "findings", None)  # a Namedlist: `in` tests values
if findings:
    write_json(findings, findings_row(df))
