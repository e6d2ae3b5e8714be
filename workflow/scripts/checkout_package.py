"""Puts this checkout's ``overopt`` package first on the path of a rule's script.

Snakemake runs a script with its rule's environment's Python and adds the script's folder
(``workflow/scripts``) to the path, not ``workflow/``, where the package lives; under
``--software-deployment-method conda`` it also removes PYTHONPATH. Every script imports this
module before the package, so ``overopt`` comes from the checkout the job runs in, whatever the
environment (a conda environment holds only the pinned third-party packages of ``envs/``).
"""

import sys
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)
