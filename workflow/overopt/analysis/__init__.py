"""The analysis stage: scaling-law fits, figures and findings from the evaluations table."""
