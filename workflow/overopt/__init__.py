"""overopt: the package behind the DAA over-optimisation study workflow.

Subpackages by stage, in the order the workflow's DAG runs them; a module imports only from
its own stage or an earlier one (``python -m overopt.pipeline.deps`` checks it):

- ``core``: configuration, registries, run identity, I/O, job set-up, provenance, resources
- ``lm``: language-model primitives: build and load models and tokenizers, sample, score
- ``data``: the synthetic task and its gold reward, data preparation, candidates, preferences
- ``train``: SFT and DAA training with TRL, safe checkpoints
- ``evaluate``: policy evaluation, judges, the SFT quality gate, the evaluations table
- ``toy``: the toy tree MDP (finding 6), on its own branch of the DAG
- ``analysis``: scaling-law fits, figures, findings
"""

from overopt.core.numerics import pin as _pin_cpu_paths

__version__ = "0.1.0"

# Before any numerical library loads: the same floating-point code paths on every x86-64 machine.
_pin_cpu_paths()
