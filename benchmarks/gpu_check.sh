#!/usr/bin/env bash
# The GPU check, for the day a GPU is lent (make gpu-check): on a CUDA machine it runs
#   1. the smoke study on the GPU, in a scratch copy of this checkout (wall time, then its digests
#      against the CPU record: `make verify`'s comparison, which says where bytes cannot match);
#   2. one optimizer step of each training rule (sft, daa, reward_model) at Pythia-1B's shape with
#      random weights, twice (benchmarks/gpu_steps.py): time per step, peak GPU memory, and
#      whether the two runs wrote the same bytes.
# Meant to finish within 8 minutes on one H100. On a machine without CUDA it does nothing and says
# so (exit 0): no test depends on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 DVC_NO_ANALYTICS=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device here (torch $("$PY" -c 'import torch; print(torch.__version__)')): nothing to check"
    exit 0
fi
"$PY" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"gpu_check: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}")'

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch"/ 2>/dev/null || cp -r . "$scratch"
ln -s "$(realpath "${VIRTUAL_ENV:-.venv}")" "$scratch/.venv" 2>/dev/null || true
start=$(date +%s)
(cd "$scratch" && PYTHONPATH="$scratch/workflow" timeout 300 "$PY" -m snakemake \
    --configfile config/smoke.yaml --cores 4 --quiet > smoke.log 2>&1) || {
    echo "gpu_check: the smoke study failed on the GPU; its log:"; tail -40 "$scratch/smoke.log"; exit 1; }
echo "gpu_check: smoke study on the GPU in $(( $(date +%s) - start )) s"
(cd "$scratch" && PYTHONPATH="$scratch/workflow" "$PY" -m overopt.pipeline.verify --config config/smoke.yaml \
    --root . | tail -15) || true

timeout 300 "$PY" benchmarks/gpu_steps.py --config config/paper.yaml
