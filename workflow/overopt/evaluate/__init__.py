"""The evaluation stage: sample and judge policies, the SFT quality gate, the evaluations table."""
